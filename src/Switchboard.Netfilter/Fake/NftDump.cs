using System.Globalization;
using System.Text;

namespace Switchboard.Netfilter.Fake;

/// <summary>Writes a ruleset like <c>nft list ruleset</c>, with names sorted so that dumps are stable across runs.</summary>
internal static class NftDump
{
    public static string Write(NftRuleset ruleset, bool handles)
    {
        var sb = new StringBuilder();
        foreach (var table in ruleset.Tables.Values.OrderBy(t => t.Ref.Family).ThenBy(t => t.Ref.Name, StringComparer.Ordinal))
        {
            sb.Append("table ").Append(table.Ref.ToString()).Append(" {");
            AppendHandle(sb, handles, table.Handle).Append('\n');
            if (table.Comment is not null)
            {
                sb.Append("\tcomment ").Append(NftScript.Quote(table.Comment)).Append('\n');
            }
            foreach (var set in table.SortedSets())
            {
                WriteSet(sb, set, handles);
            }
            foreach (var chain in table.SortedChains())
            {
                WriteChain(sb, chain, handles);
            }
            sb.Append("}\n");
        }
        return sb.ToString();
    }

    private static void WriteSet(StringBuilder sb, NftSetState set, bool handles)
    {
        var d = set.Definition;
        sb.Append('\t').Append(d.Kind).Append(' ').Append(d.Name).Append(" {");
        AppendHandle(sb, handles, set.Handle).Append('\n');
        sb.Append(d.Type is not null ? "\t\ttype " : "\t\ttypeof ").Append(d.Type ?? d.TypeOf).Append('\n');
        if (!d.Flags.IsEmpty)
        {
            sb.Append("\t\tflags ").Append(string.Join(',', d.Flags)).Append('\n');
        }
        if (d.Timeout is { } timeout)
        {
            sb.Append("\t\ttimeout ").Append(((long)timeout.TotalSeconds).ToString(CultureInfo.InvariantCulture)).Append("s\n");
        }
        if (d.Size is { } size)
        {
            sb.Append("\t\tsize ").Append(size.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
        if (d.Comment is not null)
        {
            sb.Append("\t\tcomment ").Append(NftScript.Quote(d.Comment)).Append('\n');
        }
        var elements = set.SortedElements().ToList();
        if (elements.Count > 0)
        {
            sb.Append("\t\telements = {\n");
            for (var i = 0; i < elements.Count; i++)
            {
                var e = elements[i].Element;
                sb.Append("\t\t\t").Append(string.Join(" . ", e.Key));
                if (e.Comment is not null)
                {
                    sb.Append(" comment ").Append(NftScript.Quote(e.Comment));
                }
                if (!e.Value.IsEmpty)
                {
                    sb.Append(" : ").Append(string.Join(" . ", e.Value));
                }
                sb.Append(i + 1 < elements.Count ? ",\n" : "\n");
            }
            sb.Append("\t\t}\n");
        }
        sb.Append("\t}\n");
    }

    private static void WriteChain(StringBuilder sb, NftChainState chain, bool handles)
    {
        var d = chain.Definition;
        sb.Append("\tchain ").Append(d.Name).Append(" {");
        AppendHandle(sb, handles, chain.Handle).Append('\n');
        if (d.IsBaseChain)
        {
            var priority = NftPriority.Parse(d.Priority!);
            sb.Append("\t\ttype ").Append(d.Type).Append(" hook ").Append(d.Hook).Append(" priority ")
              .Append(priority.ToString(CultureInfo.InvariantCulture)).Append("; policy ").Append(d.Policy ?? "accept").Append(";\n");
        }
        if (d.Comment is not null)
        {
            sb.Append("\t\tcomment ").Append(NftScript.Quote(d.Comment)).Append('\n');
        }
        foreach (var rule in chain.Rules)
        {
            sb.Append("\t\t").Append(rule.Text);
            if (rule.Comment is not null)
            {
                sb.Append(" comment ").Append(NftScript.Quote(rule.Comment));
            }
            AppendHandle(sb, handles, rule.Handle).Append('\n');
        }
        sb.Append("\t}\n");
    }

    private static StringBuilder AppendHandle(StringBuilder sb, bool handles, ulong handle) =>
        handles ? sb.Append(" # handle ").Append(handle.ToString(CultureInfo.InvariantCulture)) : sb;
}
