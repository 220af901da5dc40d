using Switchboard.Agnhost.Cli;
using Switchboard.Agnhost.Connect;
using Switchboard.Agnhost.Netexec;
using Switchboard.Agnhost.Pause;
using Switchboard.Agnhost.Porter;
using Switchboard.Agnhost.ServeHostname;

namespace Switchboard.Agnhost;

/// <summary>switchboard-agnhost: upstream agnhost's network-test subcommands as one small Native AOT binary.</summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var log = new GoLogger(Console.Error, TimeProvider.System);
        var commandLine = new CommandLine(
            [
                new(ConnectCommand.Spec, a => ConnectCommand.RunAsync(a, Console.Error)),
                new(NetexecCommand.Spec, a => NetexecCommand.RunAsync(a, log)),
                new(PauseCommand.Spec, _ => PauseCommand.RunAsync(Console.Out)),
                new(PorterCommand.Spec, a => PorterCommand.RunAsync(a, log)),
                new(ServeHostnameCommand.Spec, a => ServeHostnameCommand.RunAsync(a, log)),
            ],
            Console.Out,
            Console.Error);
        var code = await commandLine.RunAsync(args).ConfigureAwait(false);
        Console.Out.Flush();
        Console.Error.Flush();
        return code;
    }

    /// <summary>os.Exit: flush what we printed, then end the process at once.</summary>
    public static void Exit(int code)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        Environment.Exit(code);
    }
}
