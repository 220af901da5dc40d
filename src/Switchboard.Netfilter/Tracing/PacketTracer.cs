using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Switchboard.Netfilter.Fake;

namespace Switchboard.Netfilter.Tracing;

/// <summary>
/// Walks a packet through a (fake) nftables state like the kernel would for the first packet of a connection:
/// every base chain of the packet's family on the hooks it crosses, in priority order (prerouting, the routing
/// decision, input or forward, postrouting; or output, postrouting for the node's own traffic). DNAT in a nat
/// chain rewrites the destination for later hooks; <c>numgen ... vmap</c> is followed into every branch, so the
/// result lists all endpoints the packet can reach. Masquerade is the real thing: the mark set by
/// mark-for-masquerade and the postrouting <c>masquerade</c> statement.
/// Rules are not parsed generically: a fixed list of fragments (those the service proxy writes) is recognised and
/// anything else throws <see cref="TracerException"/>, so the generator cannot drift from what is tested.
/// Modelled on kube-proxy's pkg/proxy/nftables/helpers_test.go tracer.
/// </summary>
internal sealed partial class PacketTracer
{
    private const int MaxDepth = 64;

    private readonly NftRuleset _ruleset;
    private readonly HashSet<IPAddress> _nodeIps;

    /// <param name="ruleset">The state to trace through (e.g. <c>FakeNftables.Snapshot</c>).</param>
    /// <param name="nodeIps">The node's own addresses: <c>fib ... type local</c> and the input/forward decision use them (loopback is always local).</param>
    public PacketTracer(NftRuleset ruleset, IEnumerable<string> nodeIps)
    {
        ArgumentNullException.ThrowIfNull(ruleset);
        ArgumentNullException.ThrowIfNull(nodeIps);
        _ruleset = ruleset;
        _nodeIps = [.. nodeIps.Select(ParseIp)];
    }

    public TraceResult Trace(TracePacket packet)
    {
        ArgumentNullException.ThrowIfNull(packet);
        if (packet.Protocol is not ("tcp" or "udp" or "sctp"))
        {
            throw new ArgumentException($"protocol must be tcp, udp or sctp, not \"{packet.Protocol}\"", nameof(packet));
        }

        if (packet.DestinationPort is < 1 or > 65535)
        {
            throw new ArgumentException($"destination port {packet.DestinationPort} is not 1-65535", nameof(packet));
        }

        var src = ParseIp(packet.SourceIp);
        var dst = ParseIp(packet.DestinationIp);
        if (src.AddressFamily != dst.AddressFamily)
        {
            throw new ArgumentException($"source {packet.SourceIp} and destination {packet.DestinationIp} are of different families", nameof(packet));
        }

        var run = new Run(this, packet, src, dst);
        return run.Execute();
    }

    private static IPAddress ParseIp(string text) =>
        IPAddress.TryParse(text, out var ip) ? ip : throw new ArgumentException($"\"{text}\" is not an IP address");

    private bool IsLocal(IPAddress ip) => IPAddress.IsLoopback(ip) || _nodeIps.Contains(ip);

    private enum Flow
    {
        /// <summary>Fell off the end of the chain or hit return: the caller continues.</summary>
        Continue,

        /// <summary>accept or a NAT statement: this base chain is done, the next base chain runs.</summary>
        Accept,
        Drop,
        Reject,
    }

    /// <summary>State of one trace.</summary>
    private sealed class Run
    {
        private readonly PacketTracer _tracer;
        private readonly TracePacket _packet;
        private readonly IPAddress _src;
        private readonly NftFamily _family;
        private readonly string _ipKeyword;
        private readonly List<string> _matches = [];
        private readonly List<string> _endpoints = [];
        private IPAddress _dst;
        private int _dport;
        private uint _mark;
        private bool _masquerade;
        private bool _dnatted;
        private IReadOnlyList<NftTableState> _tables = [];
        private NftTableState _currentTable = null!;

        public Run(PacketTracer tracer, TracePacket packet, IPAddress src, IPAddress dst)
        {
            _tracer = tracer;
            _packet = packet;
            _src = src;
            _dst = dst;
            _dport = packet.DestinationPort;
            _family = src.AddressFamily == AddressFamily.InterNetwork ? NftFamily.Ip : NftFamily.Ip6;
            _ipKeyword = _family == NftFamily.Ip ? "ip" : "ip6";
        }

        public TraceResult Execute()
        {
            _tables = [.. _tracer._ruleset.Tables.Values.Where(t => t.Ref.Family == _family || t.Ref.Family == NftFamily.Inet)];
            TraceVerdict? verdict;
            if (_packet.Origin == PacketOrigin.Node)
            {
                verdict = RunHook(NftHook.Output) ?? RunHook(NftHook.Postrouting);
            }
            else
            {
                verdict = RunHook(NftHook.Prerouting);
                if (verdict is null)
                {
                    // Routing decision on the (possibly DNATed) destination.
                    verdict = _tracer.IsLocal(_dst)
                        ? RunHook(NftHook.Input)
                        : RunHook(NftHook.Forward) ?? RunHook(NftHook.Postrouting);
                }
            }

            return new TraceResult(verdict ?? TraceVerdict.Accept, [.. _endpoints], _masquerade && verdict is null, [.. _matches]);
        }

        private TraceVerdict? RunHook(string hook)
        {
            var chains = new List<(int Priority, NftTableState Table, NftChainState Chain)>();
            foreach (var table in _tables)
            {
                foreach (var chain in table.Chains.Values)
                {
                    if (chain.Definition.Hook == hook)
                    {
                        chains.Add((NftPriority.Parse(chain.Definition.Priority!), table, chain));
                    }
                }
            }

            chains.Sort((a, b) => a.Priority != b.Priority ? a.Priority.CompareTo(b.Priority) : string.CompareOrdinal(a.Chain.Name, b.Chain.Name));
            foreach (var (_, table, chain) in chains)
            {
                _currentTable = table;
                var endpointsBefore = _endpoints.Count;
                var flow = RunChain(chain.Name, 0);
                if (flow == Flow.Drop)
                {
                    return TraceVerdict.Drop;
                }

                if (flow == Flow.Reject)
                {
                    return TraceVerdict.Reject;
                }

                if (_endpoints.Count > endpointsBefore)
                {
                    // DNAT takes effect for later hooks (and later chains of this hook): use the first target.
                    var (ip, port) = ParseHostPort(_endpoints[endpointsBefore]);
                    _dst = ip;
                    _dport = port;
                    _dnatted = true;
                }
            }

            return null;
        }

        private Flow RunChain(string name, int depth)
        {
            if (depth > MaxDepth)
            {
                throw new TracerException($"jump depth over {MaxDepth} at chain {name}: a loop?");
            }

            var chain = _currentTable.Chain(name) ?? throw new TracerException($"unknown chain {name} in table {_currentTable.Ref}");
            foreach (var rule in chain.Rules)
            {
                // Reserve the slot so a rule is listed before the rules of the chains it jumps to.
                var slot = _matches.Count;
                _matches.Add(name + ": " + rule.Text + (rule.Comment is null ? "" : " comment \"" + rule.Comment + "\""));
                var flow = RunRule(name, rule.Text, rule.Text, depth, out var matched);
                if (!matched)
                {
                    _matches.RemoveAt(slot);
                }

                if (flow is not null)
                {
                    return flow.Value;
                }
            }

            return Flow.Continue;
        }

        /// <summary>Runs one rule; null = continue with the next rule of the chain.</summary>
        private Flow? RunRule(string chain, string fullRule, string text, int depth, out bool matched)
        {
            matched = false;
            var rest = text.Trim();
            while (rest.Length > 0)
            {
                Match m;
                if ((m = CtStateNew().Match(rest)).Success)
                {
                    // Traces are of a new connection's first packet.
                }
                else if ((m = DestDispatch().Match(rest)).Success)
                {
                    CheckFamily(m.Groups[1].Value, fullRule);
                    var element = Lookup(m.Groups[2].Value, true, fullRule, Addr(_dst), _packet.Protocol, Port());
                    if (element is null)
                    {
                        return null;
                    }

                    matched = true;
                    return RunVerdict(chain, element.Value[0], fullRule, depth);
                }
                else if ((m = PortDispatch().Match(rest)).Success)
                {
                    var element = Lookup(m.Groups[1].Value, true, fullRule, _packet.Protocol, Port());
                    if (element is null)
                    {
                        return null;
                    }

                    matched = true;
                    return RunVerdict(chain, element.Value[0], fullRule, depth);
                }
                else if ((m = DestTupleLookup().Match(rest)).Success)
                {
                    CheckFamily(m.Groups[1].Value, fullRule);
                    if (Lookup(m.Groups[2].Value, false, fullRule, Addr(_dst), _packet.Protocol, Port()) is null)
                    {
                        return null;
                    }
                }
                else if ((m = AddrPairLookup().Match(rest)).Success)
                {
                    // "ip saddr . ip daddr @set": the hairpin set, keyed source . (DNATed) destination.
                    CheckFamily(m.Groups[1].Value, fullRule);
                    CheckFamily(m.Groups[2].Value, fullRule);
                    if (Lookup(m.Groups[3].Value, false, fullRule, Addr(_src), Addr(_dst)) is null)
                    {
                        return null;
                    }
                }
                else if ((m = AddrSetLookup().Match(rest)).Success)
                {
                    CheckFamily(m.Groups[1].Value, fullRule);
                    var found = Lookup(m.Groups[4].Value, false, fullRule, Addr(Which(m.Groups[2].Value))) is not null;
                    if (found == m.Groups[3].Success)
                    {
                        return null;
                    }
                }
                else if ((m = AddrAnonSet().Match(rest)).Success)
                {
                    CheckFamily(m.Groups[1].Value, fullRule);
                    var ip = Which(m.Groups[2].Value);
                    var any = m.Groups[4].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                        .Any(part => AddressMatches(ip, part, fullRule));
                    if (any == m.Groups[3].Success)
                    {
                        return null;
                    }
                }
                else if ((m = AddrLiteral().Match(rest)).Success)
                {
                    CheckFamily(m.Groups[1].Value, fullRule);
                    var hit = AddressMatches(Which(m.Groups[2].Value), m.Groups[4].Value, fullRule);
                    if (hit == m.Groups[3].Success)
                    {
                        return null;
                    }
                }
                else if ((m = FibLocal().Match(rest)).Success)
                {
                    if (!_tracer.IsLocal(Which(m.Groups[1].Value)))
                    {
                        return null;
                    }
                }
                else if ((m = DestPort().Match(rest)).Success)
                {
                    if (m.Groups[1].Value != _packet.Protocol || int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) != _dport)
                    {
                        return null;
                    }
                }
                else if ((m = MarkTest().Match(rest)).Success)
                {
                    if ((_mark & ParseHex(m.Groups[1].Value)) != 0)
                    {
                        return null;
                    }
                }
                else if ((m = MarkSet().Match(rest)).Success)
                {
                    matched = true;
                    var value = ParseHex(m.Groups[2].Value);
                    _mark = m.Groups[1].Value == "or" ? _mark | value : _mark ^ value;
                }
                else if ((m = Masquerade().Match(rest)).Success)
                {
                    matched = true;
                    _masquerade = true;
                    return Flow.Accept;
                }
                else if ((m = Dnat().Match(rest)).Success)
                {
                    if (m.Groups[1].Value != _packet.Protocol)
                    {
                        return null;
                    }

                    matched = true;
                    var target = m.Groups[2].Value;
                    var (ip, _) = ParseHostPort(target);
                    if (ip.AddressFamily != _src.AddressFamily)
                    {
                        throw new TracerException($"dnat to {target} in a {_family.ToNft()} table: \"{fullRule}\"");
                    }

                    _endpoints.Add(target);
                    return Flow.Accept;
                }
                else if ((m = NumgenBranch().Match(rest)).Success)
                {
                    // "numgen random mod K 0 <goto X | meta l4proto P dnat to A>": one step of a cascade; follow the
                    // branch (a goto or an inline DNAT), then go on as if it was not taken.
                    matched = true;
                    var branch = rest[m.Length..].TrimStart();
                    if (!GotoVerdict().IsMatch(branch) && !Dnat().IsMatch(branch))
                    {
                        throw new TracerException($"numgen branch \"{branch}\" is neither \"goto <chain>\" nor \"meta l4proto <p> dnat to <ip:port>\": \"{fullRule}\" in chain {chain}");
                    }

                    var flow = RunRule(chain, fullRule, branch, depth, out _);
                    return flow is Flow.Drop or Flow.Reject ? flow : null;
                }
                else if ((m = CtStatusDnat().Match(rest)).Success)
                {
                    // The connection was DNATed by an earlier hook (the trace follows one connection's first packet).
                    if (!_dnatted)
                    {
                        return null;
                    }
                }
                else if ((m = NumgenVmap().Match(rest)).Success)
                {
                    matched = true;
                    return RunNumgen(chain, int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), m.Groups[2].Value, fullRule, depth);
                }
                else if ((m = AffinityUpdate().Match(rest)).Success)
                {
                    CheckFamily(m.Groups[2].Value, fullRule);
                    if (_currentTable.Set(m.Groups[1].Value) is null)
                    {
                        throw new TracerException($"update of unknown set @{m.Groups[1].Value}: \"{fullRule}\"");
                    }

                    // The kernel would remember the source; a trace is one packet, so nothing to record.
                }
                else if ((m = VerdictText().Match(rest)).Success)
                {
                    matched = true;
                    return RunVerdict(chain, m.Value, fullRule, depth);
                }
                else
                {
                    throw new TracerException($"tracer does not understand \"{rest}\" in rule \"{fullRule}\" of chain {chain}");
                }

                rest = rest[m.Length..].TrimStart();
            }

            // A rule of conditions and non-terminal statements only.
            return null;
        }

        private Flow? RunVerdict(string chain, string verdict, string fullRule, int depth)
        {
            var parts = verdict.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            switch (parts)
            {
                case ["accept"]:
                    return Flow.Accept;
                case ["drop"]:
                    return Flow.Drop;
                case ["reject"]:
                    return Flow.Reject;
                case ["return"]:
                    return Flow.Continue;
                case ["jump", var target]:
                    {
                        var flow = RunChain(target, depth + 1);
                        return flow == Flow.Continue ? null : flow;
                    }

                case ["goto", var target]:
                    {
                        // After a goto the current chain is finished; the caller continues unless the target ended the packet.
                        return RunChain(target, depth + 1);
                    }

                default:
                    throw new TracerException($"unknown verdict \"{verdict}\" in rule \"{fullRule}\" of chain {chain}");
            }
        }

        private Flow RunNumgen(string chain, int modulus, string body, string fullRule, int depth)
        {
            var entries = body.Split(',', StringSplitOptions.TrimEntries);
            if (entries.Length != modulus)
            {
                throw new TracerException($"numgen mod {modulus} with {entries.Length} entries: \"{fullRule}\" in chain {chain}");
            }

            for (var i = 0; i < entries.Length; i++)
            {
                var m = NumgenEntry().Match(entries[i]);
                if (!m.Success || int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) != i)
                {
                    throw new TracerException($"numgen entry \"{entries[i]}\" is not \"{i} : goto <chain>\": \"{fullRule}\" in chain {chain}");
                }

                // Follow every branch so the result lists every reachable endpoint.
                var flow = RunChain(m.Groups[2].Value, depth + 1);
                if (flow is Flow.Drop or Flow.Reject)
                {
                    return flow;
                }
            }

            return Flow.Accept;
        }

        private NftElementState? Lookup(string name, bool map, string fullRule, params string[] key)
        {
            var container = map ? _currentTable.Map(name) : _currentTable.Set(name);
            if (container is null)
            {
                throw new TracerException($"rule references unknown {(map ? "map" : "set")} @{name}: \"{fullRule}\"");
            }

            if (container.KeyTypes.Count != key.Length)
            {
                throw new TracerException($"@{name} has a {container.KeyTypes.Count}-part key but the rule looks up {key.Length} parts: \"{fullRule}\"");
            }

            if (map && !container.IsVerdictMap)
            {
                throw new TracerException($"vmap @{name} is not a verdict map: \"{fullRule}\"");
            }

            return container.Lookup(key);
        }

        private void CheckFamily(string keyword, string fullRule)
        {
            if (keyword != _ipKeyword)
            {
                throw new TracerException($"\"{keyword}\" match in an {_ipKeyword} trace: \"{fullRule}\"");
            }
        }

        private IPAddress Which(string saddrOrDaddr) => saddrOrDaddr == "saddr" ? _src : _dst;

        private string Port() => _dport.ToString(CultureInfo.InvariantCulture);

        private static string Addr(IPAddress ip) => ip.ToString();

        private static bool AddressMatches(IPAddress ip, string ruleAddress, string fullRule)
        {
            if (ruleAddress.Contains('/', StringComparison.Ordinal))
            {
                if (!IPNetwork.TryParse(ruleAddress, out var net))
                {
                    throw new TracerException($"bad CIDR \"{ruleAddress}\" in rule \"{fullRule}\"");
                }

                return net.BaseAddress.AddressFamily == ip.AddressFamily && net.Contains(ip);
            }

            if (!IPAddress.TryParse(ruleAddress, out var other))
            {
                throw new TracerException($"bad IP \"{ruleAddress}\" in rule \"{fullRule}\"");
            }

            return other.Equals(ip);
        }

        private static uint ParseHex(string text) => uint.Parse(text.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);

        private static (IPAddress Ip, int Port) ParseHostPort(string target)
        {
            var colon = target.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(target.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port))
            {
                throw new TracerException($"dnat target \"{target}\" is not ip:port");
            }

            var host = target[..colon];
            if (host.StartsWith('[') && host.EndsWith(']'))
            {
                host = host[1..^1];
            }
            else if (host.Contains(':', StringComparison.Ordinal))
            {
                throw new TracerException($"dnat target \"{target}\": an IPv6 address needs brackets");
            }

            return IPAddress.TryParse(host, out var ip) ? (ip, port) : throw new TracerException($"dnat target \"{target}\" has a bad address");
        }
    }

    [GeneratedRegex(@"^ct state new\b")]
    private static partial Regex CtStateNew();

    [GeneratedRegex(@"^(ip6?) daddr \. meta l4proto \. th dport vmap @(\S+)$")]
    private static partial Regex DestDispatch();

    [GeneratedRegex(@"^meta l4proto \. th dport vmap @(\S+)$")]
    private static partial Regex PortDispatch();

    [GeneratedRegex(@"^(ip6?) daddr \. meta l4proto \. th dport @(\S+)")]
    private static partial Regex DestTupleLookup();

    [GeneratedRegex(@"^(ip6?) (saddr|daddr) (!= )?@(\S+)")]
    private static partial Regex AddrSetLookup();

    [GeneratedRegex(@"^(ip6?) (saddr|daddr) (!= )?\{ ?([^}]*?) ?\}")]
    private static partial Regex AddrAnonSet();

    [GeneratedRegex(@"^(ip6?) (saddr|daddr) (!= )?([0-9A-Fa-f:.]+(?:/\d+)?)(?=\s|$)")]
    private static partial Regex AddrLiteral();

    [GeneratedRegex(@"^fib (saddr|daddr) type local\b")]
    private static partial Regex FibLocal();

    [GeneratedRegex(@"^(tcp|udp|sctp) dport (\d+)\b")]
    private static partial Regex DestPort();

    [GeneratedRegex(@"^mark and (0x[0-9a-fA-F]+) == 0\b")]
    private static partial Regex MarkTest();

    [GeneratedRegex(@"^mark set mark (or|xor) (0x[0-9a-fA-F]+)(?=\s|$)")]
    private static partial Regex MarkSet();

    [GeneratedRegex(@"^masquerade( fully-random)?$")]
    private static partial Regex Masquerade();

    [GeneratedRegex(@"^meta l4proto (tcp|udp|sctp) dnat to (\S+)$")]
    private static partial Regex Dnat();

    [GeneratedRegex(@"^numgen random mod (\d+) vmap \{ (.*) \}$")]
    private static partial Regex NumgenVmap();

    [GeneratedRegex(@"^numgen random mod (\d+) 0 ")]
    private static partial Regex NumgenBranch();

    [GeneratedRegex(@"^goto \S+$")]
    private static partial Regex GotoVerdict();

    [GeneratedRegex(@"^ct status dnat\b")]
    private static partial Regex CtStatusDnat();

    [GeneratedRegex(@"^(ip6?) saddr \. (ip6?) daddr @(\S+)")]
    private static partial Regex AddrPairLookup();

    [GeneratedRegex(@"^(\d+) : goto (\S+)$")]
    private static partial Regex NumgenEntry();

    [GeneratedRegex(@"^update @(\S+) \{ (ip6?) saddr \}")]
    private static partial Regex AffinityUpdate();

    [GeneratedRegex(@"^(?:(?:jump|goto) \S+|return|drop|reject|accept)$")]
    private static partial Regex VerdictText();
}
