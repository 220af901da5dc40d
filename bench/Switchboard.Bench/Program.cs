using BenchmarkDotNet.Running;
using Switchboard.Bench.Api;

// `api [switchboard.dll]`: system benchmark of the API server issue's targets against a real server process.
// Anything else: BenchmarkDotNet micro-benchmarks (e.g. `--filter *FieldValidator*`).
if (args.Length > 0 && args[0] == "api")
{
    return await ApiLoad.RunAsync(args[1..]);
}
BenchmarkSwitcher.FromAssembly(typeof(ApiLoad).Assembly).Run(args);
return 0;
