using System.Collections.Immutable;
using System.Globalization;
using Switchboard.Netfilter.Exec;

namespace Switchboard.Netfilter.Sysctl;

/// <summary>
/// Network sysctls of one network namespace (<c>net.*</c> keys only). Global sysctls are never written: see
/// <see cref="SysctlKeys.EnsureWritable"/>.
/// </summary>
internal interface ISysctl
{
    Task<string> GetAsync(string key, CancellationToken ct);

    Task SetAsync(string key, string value, CancellationToken ct);
}

/// <summary>Key checks shared by the real and fake sysctl.</summary>
internal static class SysctlKeys
{
    /// <summary>Conntrack sizing is global (init namespace only) on this kernel: Switchboard never writes it.</summary>
    private static readonly ImmutableHashSet<string> Global = ImmutableHashSet.Create(StringComparer.Ordinal,
        "net.netfilter.nf_conntrack_max", "net.nf_conntrack_max", "net.netfilter.nf_conntrack_buckets", "net.netfilter.nf_conntrack_expect_max");

    public static void Validate(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var parts = key.Split('.');
        if (parts.Length < 2 || parts[0] != "net" || parts.Any(p => p.Length == 0 || !p.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-')))
        {
            throw new ArgumentException($"sysctl \"{key}\" is not a net.* key (only network-namespace sysctls are managed)", nameof(key));
        }
    }

    public static void EnsureWritable(string key)
    {
        Validate(key);
        if (Global.Contains(key))
        {
            throw new ArgumentException($"sysctl \"{key}\" is global to the machine; Switchboard never writes global sysctls", nameof(key));
        }
    }

    public static void ValidateValue(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Length == 0 || value.Any(c => char.IsControl(c) || c == '='))
        {
            throw new ArgumentException($"bad sysctl value \"{value}\"", nameof(value));
        }
    }
}

/// <summary>
/// The real <see cref="ISysctl"/>: <c>sysctl -n</c> / <c>sysctl -w</c>, in the current network namespace (the agent
/// runs inside its node namespace) or a named one via <c>ip netns exec</c>.
/// </summary>
internal sealed class SysctlTool(string? netns = null) : ISysctl
{
    private readonly ToolRunner _tool = new(netns);

    public async Task<string> GetAsync(string key, CancellationToken ct)
    {
        SysctlKeys.Validate(key);
        var r = await _tool.RunAsync("sysctl", ["-n", key], null, ct).ConfigureAwait(false);
        return r.Ok ? r.Stdout.Trim() : throw Failure("sysctl -n " + key, r);
    }

    public async Task SetAsync(string key, string value, CancellationToken ct)
    {
        SysctlKeys.EnsureWritable(key);
        SysctlKeys.ValidateValue(value);
        var r = await _tool.RunAsync("sysctl", ["-w", key + "=" + value], null, ct).ConfigureAwait(false);
        if (!r.Ok)
        {
            throw Failure($"sysctl -w {key}={value}", r);
        }
    }

    private InvalidOperationException Failure(string command, ToolResult r) =>
        new($"{command}{(_tool.Netns is null ? "" : " in netns " + _tool.Netns)} failed (exit {r.ExitCode}): {r.Stderr}");
}

/// <summary>In-memory sysctls for unit tests; unknown keys read as missing (like a missing /proc/sys file).</summary>
internal sealed class FakeSysctl : ISysctl
{
    private ImmutableDictionary<string, string> _values = ImmutableDictionary<string, string>.Empty;

    public ImmutableDictionary<string, string> Values => Volatile.Read(ref _values);

    public FakeSysctl Seed(string key, string value)
    {
        ImmutableInterlocked.AddOrUpdate(ref _values, key, value, (_, _) => value);
        return this;
    }

    public Task<string> GetAsync(string key, CancellationToken ct)
    {
        SysctlKeys.Validate(key);
        return Values.TryGetValue(key, out var v)
            ? Task.FromResult(v)
            : Task.FromException<string>(new InvalidOperationException($"sysctl {key} does not exist"));
    }

    public Task SetAsync(string key, string value, CancellationToken ct)
    {
        SysctlKeys.EnsureWritable(key);
        SysctlKeys.ValidateValue(value);
        Seed(key, value);
        return Task.CompletedTask;
    }
}

/// <summary>
/// Per-namespace conntrack timeouts as kube-proxy sets them (tcp established 86400 s, close-wait 3600 s; UDP
/// left at the kernel default unless given). Zero or null leaves a value alone. nf_conntrack_max is global and
/// is never touched.
/// </summary>
internal sealed record ConntrackTimeouts
{
    public TimeSpan? TcpEstablished { get; init; } = TimeSpan.FromSeconds(86400);

    public TimeSpan? TcpCloseWait { get; init; } = TimeSpan.FromSeconds(3600);

    public TimeSpan? Udp { get; init; }

    public TimeSpan? UdpStream { get; init; }

    /// <summary>Writes the set timeouts; returns the keys written (values already equal are skipped).</summary>
    public async Task<IReadOnlyList<string>> ApplyAsync(ISysctl sysctl, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(sysctl);
        var written = new List<string>();
        foreach (var (key, value) in new (string, TimeSpan?)[]
        {
            ("net.netfilter.nf_conntrack_tcp_timeout_established", TcpEstablished),
            ("net.netfilter.nf_conntrack_tcp_timeout_close_wait", TcpCloseWait),
            ("net.netfilter.nf_conntrack_udp_timeout", Udp),
            ("net.netfilter.nf_conntrack_udp_timeout_stream", UdpStream),
        })
        {
            if (value is not { } v || v <= TimeSpan.Zero)
            {
                continue;
            }
            var seconds = ((long)v.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            if (await sysctl.GetAsync(key, ct).ConfigureAwait(false) == seconds)
            {
                continue;
            }
            await sysctl.SetAsync(key, seconds, ct).ConfigureAwait(false);
            written.Add(key);
        }
        return written;
    }
}
