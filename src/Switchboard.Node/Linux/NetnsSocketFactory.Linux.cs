using System.Collections.Concurrent;
using System.ComponentModel;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Switchboard.Node.Linux;

/// <summary>
/// Creates client sockets inside another network namespace ("One process, many namespaces", ARCHITECTURE.md §2):
/// one dedicated thread setns()es into /run/netns/&lt;name&gt; once and then only runs socket(2) for callers; the
/// sockets keep that namespace for life, so callers connect and do I/O from ordinary async code. Used by the API
/// server to reach kubelet APIs on node IPs and by the LoadBalancer host publisher to dial LB IPs.
/// </summary>
internal sealed partial class NetnsSocketFactory : IDisposable
{
    private const int CloneNewNet = 0x40000000;

    private readonly BlockingCollection<Request> _requests = [];
    private readonly Thread _thread;
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public NetnsSocketFactory(string netns)
    {
        Namespace = netns;
        _thread = new Thread(Run) { IsBackground = true, Name = "netns sockets " + netns };
        _thread.Start();
        try
        {
            _entered.Task.GetAwaiter().GetResult();
        }
        catch
        {
            _requests.Dispose();
            throw;
        }
    }

    public string Namespace { get; }

    /// <summary>A new, unconnected socket that lives in <see cref="Namespace"/>.</summary>
    public Task<Socket> CreateAsync(AddressFamily family, SocketType type, ProtocolType protocol)
    {
        var request = new Request(family, type, protocol);
        _requests.Add(request);
        return request.Result.Task;
    }

    /// <summary>A TCP connection to <paramref name="endpoint"/> made from inside <see cref="Namespace"/>.</summary>
    public async Task<Socket> ConnectAsync(System.Net.IPEndPoint endpoint, CancellationToken ct)
    {
        var socket = await CreateAsync(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp).ConfigureAwait(false);
        try
        {
            socket.NoDelay = true;
            await socket.ConnectAsync(endpoint, ct).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _requests.CompleteAdding();
        _thread.Join();
        _requests.Dispose();
    }

    private void Run()
    {
        try
        {
            using var ns = File.OpenHandle(Path.Combine("/run/netns", Namespace));
            if (SetNs((int)ns.DangerousGetHandle(), CloneNewNet) != 0)
            {
                throw new Win32Exception(Marshal.GetLastPInvokeError(), "setns");
            }
        }
        catch (Exception e) when (e is IOException or Win32Exception or UnauthorizedAccessException)
        {
            _entered.SetException(new IOException($"cannot enter network namespace {Namespace}: {e.Message}", e));
            return;
        }
        _entered.SetResult();
        foreach (var request in _requests.GetConsumingEnumerable())
        {
            try
            {
                request.Result.SetResult(new Socket(request.Family, request.Type, request.Protocol));
            }
            catch (SocketException e)
            {
                request.Result.SetException(e);
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);

    private sealed record Request(AddressFamily Family, SocketType Type, ProtocolType Protocol)
    {
        public TaskCompletionSource<Socket> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
