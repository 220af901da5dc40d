using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Switchboard.Proxy.Tests.Real;

/// <summary>
/// A network namespace this test made (<c>sbt&lt;6 hex&gt;-x</c>), deleted on dispose with everything in it (veths,
/// nft tables). Sockets for it are made on a short-lived thread that setns()es into it.
/// </summary>
internal sealed partial class TestNamespace : IAsyncDisposable
{
    private const int CloneNewNet = 0x40000000;

    private TestNamespace(string name) => Name = name;

    public string Name { get; }

    public static string NewPrefix() => "sbt" + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 3));

    public static async Task<TestNamespace> CreateAsync(string name)
    {
        await ShAsync("ip", "netns", "add", name);
        var ns = new TestNamespace(name);
        try
        {
            await ns.ExecAsync("ip", "link", "set", "lo", "up");
        }
        catch
        {
            await ns.DisposeAsync();
            throw;
        }

        return ns;
    }

    public Task<string> ExecAsync(params string[] command) => ShAsync(["ip", "netns", "exec", Name, .. command]);

    public static async Task<string> ShAsync(params string[] command)
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
        return p.ExitCode == 0
            ? await stdout
            : throw new InvalidOperationException($"{string.Join(' ', command)} failed ({p.ExitCode}): {await stderr}");
    }

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

    public async ValueTask DisposeAsync()
    {
        try
        {
            await ShAsync("ip", "netns", "del", Name);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);
}
