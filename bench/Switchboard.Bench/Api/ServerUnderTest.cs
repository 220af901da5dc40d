using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.RegularExpressions;

namespace Switchboard.Bench.Api;

/// <summary>A real `switchboard server` process (SQLite store in a temp data dir) and clients for it.</summary>
internal sealed partial class ServerUnderTest : IAsyncDisposable
{
    private readonly Process _process;
    private readonly X509Certificate2 _ca;
    private readonly string _token;

    private ServerUnderTest(Process process, Uri url, string dataDir, string kubeconfig)
    {
        _process = process;
        Url = url;
        DataDir = dataDir;
        Kubeconfig = kubeconfig;
        var text = File.ReadAllText(kubeconfig);
        _token = Field(text, "token:");
        _ca = X509Certificate2.CreateFromPem(Encoding.UTF8.GetString(Convert.FromBase64String(Field(text, "certificate-authority-data:"))));
    }

    public Uri Url { get; }

    public string DataDir { get; }

    public string Kubeconfig { get; }

    public int Pid => _process.Id;

    [GeneratedRegex(@"^ready: api (?<url>https://127\.0\.0\.1:\d+), export KUBECONFIG=(?<kubeconfig>/\S+)$")]
    private static partial Regex ReadyLine();

    public static async Task<ServerUnderTest> StartAsync(string dll)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "sb-bench-" + Guid.NewGuid().ToString("N")[..10]);
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { dll, "server", "--data-dir", dataDir, "--api-port", "0" })
        {
            psi.ArgumentList.Add(a);
        }
        var p = Process.Start(psi)!;
        p.ErrorDataReceived += (_, _) => { };
        p.BeginErrorReadLine();
        while (await p.StandardOutput.ReadLineAsync() is { } line)
        {
            var m = ReadyLine().Match(line);
            if (m.Success)
            {
                _ = p.StandardOutput.ReadToEndAsync();
                return new ServerUnderTest(p, new Uri(m.Groups["url"].Value), dataDir, m.Groups["kubeconfig"].Value);
            }
        }
        throw new InvalidOperationException("server exited before it was ready");
    }

    public HttpClient Client(int maxConnections = 256)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = maxConnections,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            SslOptions = { RemoteCertificateValidationCallback = (_, cert, _, _) => Validate(cert) },
        };
        var c = new HttpClient(handler) { BaseAddress = Url, Timeout = Timeout.InfiniteTimeSpan, DefaultRequestVersion = HttpVersion.Version11 };
        c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        return c;
    }

    /// <summary>Resident set size of the server process (VmRSS), in bytes.</summary>
    public long RssBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line[6..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }
        return -1;
    }

    private bool Validate(System.Security.Cryptography.X509Certificates.X509Certificate? cert)
    {
        if (cert is null)
        {
            return false;
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(new X509Certificate2(cert));
    }

    private static string Field(string text, string key)
    {
        var line = text.Split('\n').First(l => l.TrimStart().StartsWith(key, StringComparison.Ordinal));
        return line[(line.IndexOf(key, StringComparison.Ordinal) + key.Length)..].Trim().Trim('"');
    }

    public async ValueTask DisposeAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
        _ca.Dispose();
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
