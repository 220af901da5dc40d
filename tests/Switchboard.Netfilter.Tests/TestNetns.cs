using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Switchboard.Netfilter.Tests;

/// <summary>
/// A network namespace named <c>sbt&lt;6 hex&gt;[suffix]</c> that the test owns and deletes on dispose. Sockets for it
/// are made on a short-lived thread that setns()es into it (a socket stays in the namespace it was created in).
/// </summary>
internal sealed partial class TestNetns : IAsyncDisposable
{
    private TestNetns(string name) => Name = name;

    public string Name { get; }

    /// <summary>A fresh prefix <c>sbt</c> + 6 random hex characters for all objects of one test.</summary>
    public static string NewPrefix() => "sbt" + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 3));

    public static async Task<TestNetns> CreateAsync(string name)
    {
        await Sh("ip", "netns", "add", name);
        var ns = new TestNetns(name);
        await ns.ExecAsync("ip", "link", "set", "lo", "up");
        return ns;
    }

    /// <summary>Runs a command inside the namespace and returns stdout; throws with stderr on failure.</summary>
    public Task<string> ExecAsync(params string[] command) => Sh(["ip", "netns", "exec", Name, .. command]);

    public static async Task<string> Sh(params string[] command)
    {
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in command.Skip(1))
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var stdout = p.StandardOutput.ReadToEndAsync(cts.Token);
        var stderr = p.StandardError.ReadToEndAsync(cts.Token);
        await p.WaitForExitAsync(cts.Token);
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{string.Join(' ', command)} failed ({p.ExitCode}): {await stderr}");
        }
        return await stdout;
    }

    /// <summary>Creates a socket inside this namespace.</summary>
    public Socket CreateSocket(AddressFamily family, SocketType type, ProtocolType protocol)
    {
        Socket? socket = null;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var fd = File.OpenHandle("/run/netns/" + Name, FileMode.Open, FileAccess.Read);
                if (SetNs(fd.DangerousGetHandle().ToInt32(), CloneNewNet) != 0)
                {
                    throw new InvalidOperationException($"setns({Name}) failed: errno {Marshal.GetLastPInvokeError()}");
                }
                socket = new Socket(family, type, protocol);
            }
            catch (Exception e)
            {
                error = e;
            }
        });
        thread.Start();
        thread.Join();
        return error is not null ? throw error : socket!;
    }

    private const int CloneNewNet = 0x40000000;

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Sh("ip", "netns", "del", Name);
        }
        catch (InvalidOperationException)
        {
            // Already gone; nothing else of ours to remove.
        }
    }
}
