// Placeholder entry point until the agnhost subcommands land.
await Console.Error.WriteLineAsync("switchboard-agnhost: no subcommands yet").ConfigureAwait(false);
return 2;
