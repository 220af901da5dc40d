using System.Runtime.InteropServices;
using Switchboard.Agnhost.Cli;

namespace Switchboard.Agnhost.Pause;

/// <summary>
/// `pause`: print "Paused" and wait for a signal. Upstream's exit codes are kept: SIGINT exits 1, SIGTERM exits 2.
/// </summary>
internal static class PauseCommand
{
    public static readonly CommandSpec Spec = new("pause", "app pause [flags]", "Pauses the execution", [], 0, 0);

    public static async Task<int> RunAsync(TextWriter stdout)
    {
        var signalled = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c =>
        {
            c.Cancel = true;
            signalled.TrySetResult(1);
        });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            signalled.TrySetResult(2);
        });
        await stdout.WriteLineAsync("Paused").ConfigureAwait(false);
        await stdout.FlushAsync().ConfigureAwait(false);
        return await signalled.Task.ConfigureAwait(false);
    }
}
