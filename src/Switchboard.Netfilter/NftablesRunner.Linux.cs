using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Switchboard.Netfilter.Exec;

namespace Switchboard.Netfilter;

/// <summary>
/// The real <see cref="INftables"/>: runs <c>nft -f -</c> with the transaction script on stdin (one atomic kernel
/// transaction), in the current network namespace or, for tests, in a named one via <c>ip netns exec</c>.
/// Listing uses <c>nft -j</c>/<c>nft -a</c> output and is meant for start-up and clean-up only.
/// </summary>
internal sealed partial class NftablesRunner(string? netns = null) : INftables
{
    private readonly ToolRunner _tool = new(netns);

    public string? Netns => _tool.Netns;

    public Task RunAsync(NftTransaction transaction, CancellationToken ct) => ApplyAsync(transaction, check: false, ct);

    public Task CheckAsync(NftTransaction transaction, CancellationToken ct) => ApplyAsync(transaction, check: true, ct);

    private async Task ApplyAsync(NftTransaction transaction, bool check, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        if (transaction.Count == 0)
        {
            return;
        }
        string[] args = check ? ["-c", "-f", "-"] : ["-f", "-"];

        // Streamed: a full sync's script is tens of MB, which as one string (plus its builder) doubled peak RSS.
        var result = await _tool.RunStreamingAsync("nft", args, (stdin, c) => NftScript.WriteAsync(transaction, stdin, c), ct).ConfigureAwait(false);
        if (!result.Ok)
        {
            throw Failure(result, check ? "nft -c -f -" : "nft -f -");
        }
    }

    /// <summary>Runs nft with raw arguments (e.g. <c>list ruleset</c>) and returns stdout; for tests and diagnostics.</summary>
    public async Task<string> RawAsync(IReadOnlyList<string> args, CancellationToken ct)
    {
        var result = await _tool.RunAsync("nft", args, null, ct).ConfigureAwait(false);
        return result.Ok ? result.Stdout : throw Failure(result, "nft " + string.Join(' ', args));
    }

    public async Task<IReadOnlyList<string>> ListAsync(NftTableRef table, NftObjectKind kind, CancellationToken ct)
    {
        var what = kind switch
        {
            NftObjectKind.Chain => "chain",
            NftObjectKind.Set => "set",
            NftObjectKind.Map => "map",
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown object kind"),
        };
        // "list table" would also print every rule and element; listing the kind for the family is lighter.
        var tables = await RawAsync(["-j", "list", "tables", table.Family.ToNft()], ct).ConfigureAwait(false);
        if (!Items(tables, "table").Any(t => t.GetProperty("name").GetString() == table.Name))
        {
            throw new NftablesException(NftErrorKind.NotFound, $"table {table} does not exist" + (Netns is null ? "" : $" in netns {Netns}"));
        }
        var json = await RawAsync(["-j", "list", what + "s", table.Family.ToNft()], ct).ConfigureAwait(false);
        var names = new List<string>();
        foreach (var item in Items(json, what))
        {
            if (item.GetProperty("table").GetString() == table.Name)
            {
                names.Add(item.GetProperty("name").GetString()!);
            }
        }
        names.Sort(StringComparer.Ordinal);
        return names;
    }

    [GeneratedRegex(@"^\s+(?<text>.*?)(?: comment ""(?<comment>[^""]*)"")? # handle (?<handle>\d+)$")]
    private static partial Regex RuleLine();

    public async Task<IReadOnlyList<NftRule>> ListRulesAsync(NftTableRef table, string chain, CancellationToken ct)
    {
        var text = await RawAsync(["-a", "list", "chain", table.Family.ToNft(), table.Name, chain], ct).ConfigureAwait(false);
        var rules = new List<NftRule>();
        foreach (var line in text.Split('\n'))
        {
            var m = RuleLine().Match(line);
            // Chain headers and the "type … policy …;" line carry no "# handle" of a rule inside the chain block.
            if (!m.Success || line.TrimStart().StartsWith("chain ", StringComparison.Ordinal) || line.TrimStart().StartsWith("table ", StringComparison.Ordinal))
            {
                continue;
            }
            rules.Add(new NftRule
            {
                Chain = chain,
                Text = m.Groups["text"].Value,
                Comment = m.Groups["comment"].Success ? m.Groups["comment"].Value : null,
                Handle = ulong.Parse(m.Groups["handle"].Value, CultureInfo.InvariantCulture),
            });
        }
        return rules;
    }

    public async Task<IReadOnlyList<NftElement>> ListElementsAsync(NftTableRef table, NftObjectKind kind, string name, CancellationToken ct)
    {
        if (kind is not (NftObjectKind.Set or NftObjectKind.Map))
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "elements are listed for sets and maps");
        }
        var what = kind == NftObjectKind.Set ? "set" : "map";
        var json = await RawAsync(["-j", "list", what, table.Family.ToNft(), table.Name, name], ct).ConfigureAwait(false);
        var elements = new List<NftElement>();
        foreach (var item in Items(json, what))
        {
            if (!item.TryGetProperty("elem", out var elems))
            {
                continue;
            }
            foreach (var elem in elems.EnumerateArray())
            {
                elements.Add(NftJson.Element(elem, kind == NftObjectKind.Set ? name : null, kind == NftObjectKind.Map ? name : null));
            }
        }
        return elements;
    }

    private static List<JsonElement> Items(string json, string what)
    {
        using var doc = JsonDocument.Parse(json);
        var result = new List<JsonElement>();
        foreach (var entry in doc.RootElement.GetProperty("nftables").EnumerateArray())
        {
            if (entry.TryGetProperty(what, out var item))
            {
                result.Add(item.Clone());
            }
        }
        return result;
    }

    private NftablesException Failure(ToolResult result, string command)
    {
        var where = Netns is null ? "" : $" in netns {Netns}";
        return new NftablesException(
            NftablesException.Classify(result.Stderr),
            $"{command}{where} failed (exit {result.ExitCode}): {result.Stderr}",
            result.Stderr);
    }
}
