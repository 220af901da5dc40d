using System.Collections.Immutable;
using System.Net.Sockets;

namespace Switchboard.Netfilter.Conntrack;

/// <summary>In-memory conntrack table for unit tests: add flows, let the code under test delete them, inspect the rest.</summary>
internal sealed class FakeConntrack : IConntrack
{
    private readonly Lock _lock = new();
    private ImmutableList<ConntrackFlow> _flows = [];
    private ImmutableList<ConntrackFilter> _deletes = [];

    public ImmutableList<ConntrackFlow> Flows => Volatile.Read(ref _flows);

    /// <summary>Every delete filter applied, in order (what the proxy asked to clean).</summary>
    public ImmutableList<ConntrackFilter> Deletes => Volatile.Read(ref _deletes);

    public void Add(ConntrackFlow flow)
    {
        lock (_lock)
        {
            _flows = _flows.Add(flow);
        }
    }

    public Task<IReadOnlyList<ConntrackFlow>> ListAsync(AddressFamily family, string? protocol, CancellationToken ct)
    {
        IReadOnlyList<ConntrackFlow> flows = [.. Flows.Where(f => f.OrigDst.AddressFamily == family && (protocol is null || f.Protocol == protocol))];
        return Task.FromResult(flows);
    }

    public Task<int> DeleteAsync(ConntrackFilter filter, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(filter);
        lock (_lock)
        {
            var before = _flows.Count;
            _flows = _flows.RemoveAll(filter.Matches);
            _deletes = _deletes.Add(filter);
            return Task.FromResult(before - _flows.Count);
        }
    }
}
