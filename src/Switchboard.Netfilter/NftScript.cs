using System.Globalization;
using System.Text;

namespace Switchboard.Netfilter;

/// <summary>Writes a transaction as an <c>nft -f</c> script, one command per line, in the syntax of nft 1.0.6.</summary>
internal static class NftScript
{
    public static string Write(NftTransaction transaction)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        var sb = new StringBuilder(64 * (transaction.Count + transaction.Defines.Length));
        foreach (var define in transaction.Defines)
        {
            sb.Append("define ").Append(define.Key).Append(" = ").Append(define.Value).Append('\n');
        }
        foreach (var op in transaction.Operations)
        {
            WriteOperation(sb, op);
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>
    /// Writes the same script as <see cref="Write(NftTransaction)"/> to <paramref name="writer"/> in chunks of about
    /// <paramref name="chunkChars"/> characters, so a full sync's script (tens of MB) is never one string in memory.
    /// </summary>
    public static async Task WriteAsync(NftTransaction transaction, TextWriter writer, CancellationToken ct, int chunkChars = 64 * 1024)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkChars, 1);
        var sb = new StringBuilder(chunkChars + 1024);
        foreach (var define in transaction.Defines)
        {
            sb.Append("define ").Append(define.Key).Append(" = ").Append(define.Value).Append('\n');
        }
        foreach (var op in transaction.Operations)
        {
            WriteOperation(sb, op);
            sb.Append('\n');
            if (sb.Length >= chunkChars)
            {
                await writer.WriteAsync(sb, ct).ConfigureAwait(false);
                sb.Clear();
            }
        }
        if (sb.Length > 0)
        {
            await writer.WriteAsync(sb, ct).ConfigureAwait(false);
        }
    }

    /// <summary>One operation as one line without the trailing newline.</summary>
    public static string Write(NftOperation operation)
    {
        var sb = new StringBuilder();
        WriteOperation(sb, operation);
        return sb.ToString();
    }

    private static void WriteOperation(StringBuilder sb, NftOperation op)
    {
        var verb = NftValidation.Verb(op.Verb);
        var table = op.Table.ToString();
        var create = op.Verb is NftVerb.Add or NftVerb.Create;
        switch (op.Object)
        {
            case NftTable t:
                sb.Append(verb).Append(" table ").Append(table);
                if (create && t.Comment is not null)
                {
                    sb.Append(" { comment ").Append(Quote(t.Comment)).Append(" ; }");
                }
                break;
            case NftChain c:
                sb.Append(verb).Append(" chain ").Append(table).Append(' ').Append(c.Name);
                if (create && (c.Hook is not null || c.Comment is not null))
                {
                    sb.Append(" {");
                    if (c.Hook is not null)
                    {
                        var priority = NftPriority.Parse(c.Priority!);
                        sb.Append(" type ").Append(c.Type).Append(" hook ").Append(c.Hook)
                          .Append(" priority ").Append(priority.ToString(CultureInfo.InvariantCulture)).Append(" ;");
                        if (c.Policy is not null)
                        {
                            sb.Append(" policy ").Append(c.Policy).Append(" ;");
                        }
                    }
                    if (c.Comment is not null)
                    {
                        sb.Append(" comment ").Append(Quote(c.Comment)).Append(" ;");
                    }
                    sb.Append(" }");
                }
                break;
            case NftRule r:
                sb.Append(verb).Append(" rule ").Append(table).Append(' ').Append(r.Chain);
                if (r.Index is { } index)
                {
                    sb.Append(" index ").Append(index.ToString(CultureInfo.InvariantCulture));
                }
                else if (r.Handle is { } handle)
                {
                    sb.Append(" handle ").Append(handle.ToString(CultureInfo.InvariantCulture));
                }
                if (op.Verb != NftVerb.Delete)
                {
                    sb.Append(' ').Append(r.Text);
                    if (r.Comment is not null)
                    {
                        sb.Append(" comment ").Append(Quote(r.Comment));
                    }
                }
                break;
            case NftSetBase s:
                sb.Append(verb).Append(' ').Append(s.Kind).Append(' ').Append(table).Append(' ').Append(s.Name);
                if (create)
                {
                    sb.Append(" {");
                    if (s.Type is not null)
                    {
                        sb.Append(" type ").Append(s.Type).Append(" ;");
                    }
                    else
                    {
                        sb.Append(" typeof ").Append(s.TypeOf).Append(" ;");
                    }
                    if (!s.Flags.IsEmpty)
                    {
                        sb.Append(" flags ").Append(string.Join(',', s.Flags)).Append(" ;");
                    }
                    if (s.Timeout is { } timeout)
                    {
                        sb.Append(" timeout ").Append(((long)timeout.TotalSeconds).ToString(CultureInfo.InvariantCulture)).Append("s ;");
                    }
                    if (s.Size is { } size)
                    {
                        sb.Append(" size ").Append(size.ToString(CultureInfo.InvariantCulture)).Append(" ;");
                    }
                    if (s.Comment is not null)
                    {
                        sb.Append(" comment ").Append(Quote(s.Comment)).Append(" ;");
                    }
                    sb.Append(" }");
                }
                break;
            case NftElement e:
                sb.Append(verb).Append(" element ").Append(table).Append(' ').Append(e.Container).Append(" { ");
                AppendParts(sb, e.Key);
                if (create)
                {
                    if (e.Comment is not null)
                    {
                        sb.Append(" comment ").Append(Quote(e.Comment));
                    }
                    if (!e.Value.IsEmpty)
                    {
                        sb.Append(" : ");
                        AppendParts(sb, e.Value);
                    }
                }
                sb.Append(" }");
                break;
            default:
                throw new ArgumentException("unknown nftables object " + op.Object.GetType().Name, nameof(op));
        }
    }

    private static void AppendParts(StringBuilder sb, EquatableArray<string> parts)
    {
        for (var i = 0; i < parts.Count; i++)
        {
            if (i > 0)
            {
                sb.Append(" . ");
            }
            sb.Append(parts[i]);
        }
    }

    /// <summary>Comments were validated to contain no double quote, so quoting needs no escapes.</summary>
    internal static string Quote(string text) => "\"" + text + "\"";
}
