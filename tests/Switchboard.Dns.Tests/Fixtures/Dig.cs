using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Switchboard.Dns.Tests.Fixtures;

/// <summary>One resource record as dig prints it.</summary>
public sealed record Rr(string Name, int Ttl, string Type, string Data)
{
    public override string ToString() => $"{Name} {Ttl} {Type} {Data}";
}

/// <summary>dig's view of one exchange: status, header flags and the three sections.</summary>
public sealed record DigResult(string Status, IReadOnlySet<string> Flags, IReadOnlyList<Rr> Answer, IReadOnlyList<Rr> Authority, IReadOnlyList<Rr> Additional, bool RetriedOverTcp, string Raw)
{
    public bool Has(string flag) => Flags.Contains(flag);

    public IEnumerable<string> AnswerData(string type) => Answer.Where(r => r.Type == type).Select(r => r.Data);
}

/// <summary>Runs the real `dig` against a server on loopback and parses its default output.</summary>
public static partial class Dig
{
    public static async Task<DigResult> QueryAsync(int port, string name, string type = "A", params string[] options)
    {
        var psi = new ProcessStartInfo("dig")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in (string[])["@127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "+time=5", "+tries=1", .. options, name, type])
        {
            psi.ArgumentList.Add(a);
        }
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("dig did not start (apt-get install dnsutils)");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(cts.Token);
        var text = await stdout + await stderr;
        return Parse(text);
    }

    public static DigResult Parse(string text)
    {
        var status = StatusLine().Match(text) is { Success: true } m ? m.Groups[1].Value : throw new InvalidOperationException("dig printed no header:\n" + text);
        var flags = FlagsLine().Match(text) is { Success: true } f ? f.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet() : [];
        return new DigResult(status, flags, Section(text, "ANSWER"), Section(text, "AUTHORITY"), Section(text, "ADDITIONAL"), text.Contains("Truncated, retrying in TCP mode", StringComparison.Ordinal), text);
    }

    private static List<Rr> Section(string text, string name)
    {
        var result = new List<Rr>();
        var start = text.IndexOf($";; {name} SECTION:\n", StringComparison.Ordinal);
        if (start < 0)
        {
            return result;
        }
        foreach (var line in text[(start + name.Length + 13)..].Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith(';'))
            {
                break;
            }
            var parts = line.Split((char[])[' ', '\t'], 5, StringSplitOptions.RemoveEmptyEntries);
            result.Add(new Rr(parts[0], int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), parts[3], parts.Length > 4 ? parts[4].Trim() : ""));
        }
        return result;
    }

    [GeneratedRegex(@"->>HEADER<<- opcode: \w+, status: (\w+),")]
    private static partial Regex StatusLine();

    [GeneratedRegex(@";; flags:([^;]*);")]
    private static partial Regex FlagsLine();
}
