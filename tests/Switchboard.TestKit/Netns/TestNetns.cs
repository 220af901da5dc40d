using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Switchboard.TestKit.Netns;

/// <summary>
/// A network namespace a test or benchmark made (name from <see cref="NewPrefix"/>: <c>sbt&lt;6 hex&gt;-…</c>), deleted
/// on dispose with everything in it (veths, nft tables). Work inside it (sockets, which stay in the namespace they
/// were created in) runs on a short-lived thread that setns()es into it.
/// </summary>
public sealed partial class TestNetns : IAsyncDisposable
{
    private const int CloneNewNet = 0x40000000;

    private TestNetns(string name) => Name = name;

    public string Name { get; }

    /// <summary>A fresh prefix <c>sbt</c> + 6 random hex characters for all kernel objects of one test.</summary>
    public static string NewPrefix() => "sbt" + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 3));

    /// <summary>Creates the namespace with its loopback up (removed again if that fails).</summary>
    public static async Task<TestNetns> CreateAsync(string name)
    {
        await ShAsync("ip", "netns", "add", name).ConfigureAwait(false);
        var ns = new TestNetns(name);
        try
        {
            await ns.ExecAsync("ip", "link", "set", "lo", "up").ConfigureAwait(false);
        }
        catch
        {
            await ns.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return ns;
    }

    /// <summary>Runs a command inside the namespace and returns stdout; throws with stderr on failure.</summary>
    public Task<string> ExecAsync(params string[] command) => ShAsync(["ip", "netns", "exec", Name, .. command]);

    /// <summary>Runs a command (30 s at most) and returns stdout; throws with stderr on failure.</summary>
    public static async Task<string> ShAsync(params string[] command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in command.Skip(1))
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var stdout = p.StandardOutput.ReadToEndAsync(cts.Token);
        var stderr = p.StandardError.ReadToEndAsync(cts.Token);
        await p.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        return p.ExitCode == 0
            ? await stdout.ConfigureAwait(false)
            : throw new InvalidOperationException($"{string.Join(' ', command)} failed ({p.ExitCode}): {await stderr.ConfigureAwait(false)}");
    }

    /// <summary>Creates a socket inside this namespace.</summary>
    public Socket CreateSocket(AddressFamily family, SocketType type, ProtocolType protocol) =>
        RunInsideAsync(() => new Socket(family, type, protocol)).GetAwaiter().GetResult();

    /// <summary>Runs <paramref name="work"/> on a new thread inside this namespace and returns its result.</summary>
    public Task<T> RunInsideAsync<T>(Func<T> work)
    {
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                using var fd = File.OpenHandle("/run/netns/" + Name, FileMode.Open, FileAccess.Read);
                if (SetNs(fd.DangerousGetHandle().ToInt32(), CloneNewNet) != 0)
                {
                    throw new InvalidOperationException($"setns({Name}) failed: errno {Marshal.GetLastPInvokeError()}");
                }
                tcs.SetResult(work());
            }
            catch (Exception e)
            {
                tcs.SetException(e);
            }
        }) { IsBackground = true, Name = "netns " + Name };
        thread.Start();
        return tcs.Task;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await ShAsync("ip", "netns", "del", Name).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);
}
