using System.Globalization;
using System.Text.Json;
using Switchboard.Proxy.Model;

namespace Switchboard.Proxy.HealthCheck;

/// <summary>
/// The proxy's own health (upstream ProxierHealthServer state behind <c>/healthz</c> and <c>/livez</c> on 10256):
/// unhealthy when some family has had an update queued for longer than <c>healthTimeout</c> (kube-proxy: 2 ×
/// syncPeriod) without a successful sync since. Thread-safe; time from the injected <see cref="TimeProvider"/>.
/// </summary>
internal sealed class ProxierHealth(TimeProvider time, TimeSpan healthTimeout)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<IpFamily, DateTimeOffset> _oldestPendingQueued = [];
    private readonly Dictionary<IpFamily, DateTimeOffset> _lastUpdated = [];

    /// <summary>A change was queued for <paramref name="family"/>; only the oldest pending one counts.</summary>
    public void QueuedUpdate(IpFamily family)
    {
        lock (_lock)
        {
            _oldestPendingQueued.TryAdd(family, time.GetUtcNow());
        }
    }

    /// <summary>A sync of <paramref name="family"/> succeeded: nothing is pending any more.</summary>
    public void Updated(IpFamily family)
    {
        lock (_lock)
        {
            _oldestPendingQueued.Remove(family);
            _lastUpdated[family] = time.GetUtcNow();
        }
    }

    public bool IsHealthy() => Snapshot().Healthy;

    /// <summary>Health now, plus the newest successful sync (null before the first).</summary>
    public (bool Healthy, DateTimeOffset? LastUpdated, DateTimeOffset Now) Snapshot()
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            var healthy = true;
            foreach (var queued in _oldestPendingQueued.Values)
            {
                if (now - queued > healthTimeout)
                {
                    healthy = false;
                }
            }

            DateTimeOffset? last = _lastUpdated.Count == 0 ? null : _lastUpdated.Values.Max();
            return (healthy, last, now);
        }
    }

    /// <summary>The <c>/livez</c>-style body: <c>{"lastUpdated": "...", "currentTime": "..."}</c> (RFC 3339, UTC).</summary>
    public string Json()
    {
        var (_, last, now) = Snapshot();
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(128);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("lastUpdated", (last ?? DateTimeOffset.UnixEpoch).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture));
            json.WriteString("currentTime", now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture));
            json.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
