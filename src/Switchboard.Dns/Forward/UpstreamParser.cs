using System.Globalization;
using System.Net;

namespace Switchboard.Dns.Forward;

/// <summary>Where names outside the cluster go: explicit resolvers, or the nameservers and search list of a resolv.conf.</summary>
internal sealed record UpstreamConfig(IReadOnlyList<IPEndPoint> Servers, IReadOnlyList<string> Search)
{
    public static UpstreamConfig None => new([], []);

    /// <summary>
    /// Reads `--upstream` values: "none"; ADDR or ADDR:PORT or [V6]:PORT (repeatable); or one path to a
    /// resolv.conf. An empty list means /etc/resolv.conf (the standalone default).
    /// </summary>
    public static UpstreamConfig Parse(IReadOnlyList<string> values, Func<string, string?> readFile)
    {
        if (values.Count == 0)
        {
            values = ["/etc/resolv.conf"];
        }
        if (values.Count == 1 && string.Equals(values[0], "none", StringComparison.OrdinalIgnoreCase))
        {
            return None;
        }
        var servers = new List<IPEndPoint>();
        var search = new List<string>();
        foreach (var value in values)
        {
            if (string.Equals(value, "none", StringComparison.OrdinalIgnoreCase))
            {
                throw new ArgumentException("--upstream none cannot be combined with other upstreams");
            }
            if (TryParseEndPoint(value, 53, out var endPoint))
            {
                servers.Add(endPoint);
                continue;
            }
            if (value.Contains('/', StringComparison.Ordinal))
            {
                var text = readFile(value) ?? throw new ArgumentException($"--upstream {value}: cannot read the file");
                var conf = ParseResolvConf(text);
                servers.AddRange(conf.Servers);
                search.AddRange(conf.Search);
                continue;
            }
            throw new ArgumentException($"--upstream {value}: not an address, ADDR:PORT, a resolv.conf path or none");
        }
        return new UpstreamConfig(servers, search);
    }

    /// <summary>nameserver and search lines of resolv.conf(5); the last search line wins, as in glibc.</summary>
    public static UpstreamConfig ParseResolvConf(string text)
    {
        var servers = new List<IPEndPoint>();
        IReadOnlyList<string> search = [];
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';')
            {
                continue;
            }
            var fields = line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 2 && fields[0] == "nameserver")
            {
                // A scoped IPv6 nameserver (fe80::1%eth0) parses too; the scope is kept.
                if (IPAddress.TryParse(fields[1], out var ip))
                {
                    servers.Add(new IPEndPoint(ip, 53));
                }
            }
            else if (fields.Length >= 2 && fields[0] is "search" or "domain")
            {
                search = [.. fields.Skip(1).Select(s => s.TrimEnd('.')).Where(s => s.Length > 0)];
            }
        }
        return new UpstreamConfig(servers, search);
    }

    /// <summary>ADDR, ADDR:PORT, [V6] or [V6]:PORT.</summary>
    public static bool TryParseEndPoint(string text, int defaultPort, out IPEndPoint endPoint)
    {
        endPoint = null!;
        if (IPAddress.TryParse(text, out var bare) && !text.StartsWith('['))
        {
            endPoint = new IPEndPoint(bare, defaultPort);
            return true;
        }
        if (!IPEndPoint.TryParse(text, out var parsed))
        {
            return false;
        }
        var hasPort = text.StartsWith('[') ? text.Contains("]:", StringComparison.Ordinal) : text.Contains(':', StringComparison.Ordinal);
        endPoint = new IPEndPoint(parsed.Address, hasPort ? parsed.Port : defaultPort);
        return true;
    }

    internal static string Format(IPEndPoint endPoint) => endPoint.ToString();

    internal static int ParsePort(string text) => int.Parse(text, CultureInfo.InvariantCulture);
}
