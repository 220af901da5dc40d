using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Switchboard.Bench.Proxy;

/// <summary>
/// A network namespace the benchmark made (<c>sbt&lt;6 hex&gt;-…</c>), deleted on dispose with everything in it.
/// Code that must run inside it (sockets, blocking connects) runs on a dedicated thread that setns()es into it.
/// </summary>
internal sealed partial class Netns : IAsyncDisposable
{
    private const int CloneNewNet = 0x40000000;

    private Netns(string name) => Name = name;

    public string Name { get; }

    public static string NewPrefix() => "sbt" + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 3));

    public static async Task<Netns> CreateAsync(string name)
    {
        await ShAsync("ip", "netns", "add", name);
        var ns = new Netns(name);
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
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var stdout = p.StandardOutput.ReadToEndAsync(cts.Token);
        var stderr = p.StandardError.ReadToEndAsync(cts.Token);
        await p.WaitForExitAsync(cts.Token);
        return p.ExitCode == 0
            ? await stdout
            : throw new InvalidOperationException($"{string.Join(' ', command)} failed ({p.ExitCode}): {await stderr}");
    }

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
