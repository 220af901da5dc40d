using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Switchboard.Netfilter.Exec;

namespace Switchboard.Netfilter.Conntrack;

/// <summary>
/// <see cref="IConntrack"/> over the <c>conntrack</c> tool (conntrack-tools), in the current network namespace
/// or a named one (<c>ip netns exec</c>). Conntrack tables are per network namespace.
/// </summary>
internal sealed partial class ConntrackTool(string? netns = null) : IConntrack
{
    private readonly ToolRunner _tool = new(netns);

    [GeneratedRegex(@"(\d+) flow entries have been deleted")]
    private static partial Regex DeletedCount();

    public async Task<IReadOnlyList<ConntrackFlow>> ListAsync(AddressFamily family, string? protocol, CancellationToken ct)
    {
        var args = new List<string> { "-L", "-f", FamilyArg(family) };
        if (protocol is not null)
        {
            args.AddRange(["-p", ValidProtocol(protocol)]);
        }
        var result = await _tool.RunAsync("conntrack", args, null, ct).ConfigureAwait(false);
        if (!result.Ok)
        {
            throw Failure(result, args);
        }
        var flows = new List<ConntrackFlow>();
        foreach (var line in result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (TryParse(line) is { } flow)
            {
                flows.Add(flow);
            }
        }
        return flows;
    }

    public async Task<int> DeleteAsync(ConntrackFilter filter, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var args = new List<string> { "-D", "-f", FamilyArg(filter.Family), "-p", ValidProtocol(filter.Protocol) };
        if (filter.OrigDst is { } dst)
        {
            args.AddRange(["--orig-dst", Address(dst, filter.Family)]);
        }
        if (filter.OrigDstPort is { } port)
        {
            args.AddRange(["--dport", ValidPort(port)]);
        }
        if (filter.ReplySrc is { } src)
        {
            args.AddRange(["--reply-src", Address(src, filter.Family)]);
        }
        if (filter.DstNat is { } nat)
        {
            args.AddRange(["--dst-nat", Address(nat, filter.Family)]);
        }
        var result = await _tool.RunAsync("conntrack", args, null, ct).ConfigureAwait(false);
        var m = DeletedCount().Match(result.Stderr);
        // conntrack exits 1 when nothing matched; that is success for a clean-up.
        if (m.Success && (result.Ok || m.Groups[1].Value == "0"))
        {
            return int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        }
        throw Failure(result, args);
    }

    /// <summary>Parses one line of <c>conntrack -L</c>; null for lines that are not flows.</summary>
    internal static ConntrackFlow? TryParse(string line)
    {
        var tokens = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (tokens.Length < 3)
        {
            return null;
        }
        var values = new List<(string Key, string Value)>();
        foreach (var t in tokens)
        {
            var eq = t.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                values.Add((t[..eq], t[(eq + 1)..]));
            }
        }
        string? Nth(string key, int n) => values.Where(v => v.Key == key).Select(v => v.Value).Skip(n).FirstOrDefault();
        if (Nth("src", 1) is not { } replySrc || !IPAddress.TryParse(Nth("src", 0), out var origSrc) || !IPAddress.TryParse(Nth("dst", 0), out var origDst)
            || !IPAddress.TryParse(replySrc, out var rSrc) || !IPAddress.TryParse(Nth("dst", 1), out var rDst))
        {
            return null;
        }
        return new ConntrackFlow
        {
            Protocol = tokens[0],
            OrigSrc = origSrc,
            OrigDst = origDst,
            OrigSrcPort = Port(Nth("sport", 0)),
            OrigDstPort = Port(Nth("dport", 0)),
            ReplySrc = rSrc,
            ReplyDst = rDst,
            ReplySrcPort = Port(Nth("sport", 1)),
            ReplyDstPort = Port(Nth("dport", 1)),
        };
    }

    private static int Port(string? text) => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var p) ? p : 0;

    private static string FamilyArg(AddressFamily family) => family switch
    {
        AddressFamily.InterNetwork => "ipv4",
        AddressFamily.InterNetworkV6 => "ipv6",
        _ => throw new ArgumentException($"conntrack family must be IPv4 or IPv6, not {family}", nameof(family)),
    };

    private static string ValidProtocol(string protocol) => protocol is "udp" or "tcp" or "sctp"
        ? protocol
        : throw new ArgumentException($"conntrack protocol must be udp, tcp or sctp, not \"{protocol}\"", nameof(protocol));

    private static string ValidPort(int port) => port is > 0 and <= 65535
        ? port.ToString(CultureInfo.InvariantCulture)
        : throw new ArgumentException($"port {port} is outside 1-65535", nameof(port));

    private static string Address(IPAddress address, AddressFamily family) => address.AddressFamily == family
        ? address.ToString()
        : throw new ArgumentException($"address {address} is not of the filter's family {family}", nameof(address));

    private NftablesException Failure(ToolResult result, List<string> args)
    {
        var where = _tool.Netns is null ? "" : $" in netns {_tool.Netns}";
        return new NftablesException(NftErrorKind.Other, $"conntrack {string.Join(' ', args)}{where} failed (exit {result.ExitCode}): {result.Stderr}", result.Stderr);
    }
}
