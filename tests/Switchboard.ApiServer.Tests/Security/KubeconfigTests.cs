using System.Runtime.Versioning;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Switchboard.ApiServer.Security;

namespace Switchboard.ApiServer.Tests.Security;

[SupportedOSPlatform("linux")]
public sealed class KubeconfigTests : IDisposable
{
    private const string CaPem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task WriteAdmin_KubectlConfigView_ParsesEveryField()
    {
        var path = _dir.Combine("kubeconfig");
        Kubeconfig.WriteAdmin(path, CaPem, 41234, "tok-en_123", owner: null);

        var (code, stdout, stderr) = await Kubectl.RunAsync("--kubeconfig", path, "config", "view", "--raw", "-o", "json");

        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.Equal("switchboard", root.GetProperty("current-context").GetString());
        var cluster = root.GetProperty("clusters").EnumerateArray().Single();
        Assert.Equal("switchboard", cluster.GetProperty("name").GetString());
        Assert.Equal("https://127.0.0.1:41234", cluster.GetProperty("cluster").GetProperty("server").GetString());
        Assert.Equal(CaPem, Encoding.UTF8.GetString(Convert.FromBase64String(
            cluster.GetProperty("cluster").GetProperty("certificate-authority-data").GetString()!)));
        var user = root.GetProperty("users").EnumerateArray().Single();
        Assert.Equal("admin", user.GetProperty("name").GetString());
        Assert.Equal("tok-en_123", user.GetProperty("user").GetProperty("token").GetString());
        var context = root.GetProperty("contexts").EnumerateArray().Single();
        Assert.Equal("switchboard", context.GetProperty("name").GetString());
        Assert.Equal("switchboard", context.GetProperty("context").GetProperty("cluster").GetString());
        Assert.Equal("admin", context.GetProperty("context").GetProperty("user").GetString());
        Assert.Equal("default", context.GetProperty("context").GetProperty("namespace").GetString());
    }

    [Fact]
    public void WriteAdmin_Always_WritesMode0600AtomicallyAndReplacesOldFile()
    {
        var path = _dir.Combine("sub", "kubeconfig");
        Kubeconfig.WriteAdmin(path, CaPem, 1, "first", owner: null);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

        Kubeconfig.WriteAdmin(path, CaPem, 2, "second", owner: null);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Contains("token: \"second\"", File.ReadAllText(path), StringComparison.Ordinal);
        Assert.Equal([path], Directory.GetFiles(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public async Task WriteAdmin_WithOwner_ChownsTheFile()
    {
        Assert.True(Environment.IsPrivilegedProcess, "chown needs root; the suite runs as root");
        var path = _dir.Combine("kubeconfig");

        Kubeconfig.WriteAdmin(path, CaPem, 6443, "t", new FileOwner(65534, 65533));

        Assert.Equal("65534:65533", (await RunAsync("stat", "-c", "%u:%g", path)).Trim());
    }

    [Fact]
    public void Render_ValuesNeedingQuotes_CannotBreakOutOfTheirField()
    {
        var yaml = Kubeconfig.Render(CaPem, "https://[fd00:172:18::1]:6443", "a\"b\nc: d", "node-1");

        Assert.Contains("server: \"https://[fd00:172:18::1]:6443\"", yaml, StringComparison.Ordinal);
        Assert.Contains("token: \"a\\u0022b\\nc: d\"", yaml, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_NonHttpsServer_Throws()
        => Assert.Throws<ArgumentException>(() => Kubeconfig.Render(CaPem, "http://127.0.0.1:6443", "t", "u"));

    /// <summary>
    /// The whole chain with real kubectl: a Pki, a Kestrel serving its certificate and checking bearer tokens, and
    /// kubeconfigs for the admin and a node (service-account token, DNS name as server) that kubectl uses to get /version.
    /// </summary>
    [Fact]
    public async Task Kubeconfigs_KubectlGetVersion_TrustsTheCaAndSendsTheToken()
    {
        using var pki = Pki.LoadOrCreate(_dir.Combine("pki"), new PkiOptions(), TimeProvider.System);
        var tokens = new ServiceAccountTokens(pki.ServiceAccountKey, new ServiceAccountTokenOptions(), TimeProvider.System);
        var auth = new BearerAuthenticator(pki.AdminToken, tokens);
        await using var host = await TlsTestHost.StartAsync(pki.ServingCertificate, async ctx =>
        {
            var user = auth.Authenticate(ctx.Request.Headers.Authorization);
            if (!user.IsAuthenticated)
            {
                ctx.Response.StatusCode = 401;
                return;
            }

            ctx.Response.ContentType = "application/json";
            await ctx.Response.WriteAsync($$"""{"major":"1","minor":"33","gitVersion":"v1.33.0-switchboard","user":"{{user.UserName}}"}""");
        });

        var admin = _dir.Combine("kubeconfig");
        Kubeconfig.WriteAdmin(admin, pki.CaPem, host.Port, pki.AdminToken, owner: null);
        var node = _dir.Combine("nodes", "n1", "kubeconfig");
        var saToken = tokens.Issue("kube-system", "node-n1", "uid-1").Token;
        Kubeconfig.WriteForNode(node, pki.CaPem, $"https://localhost:{host.Port}", saToken, "n1");
        var bad = _dir.Combine("bad");
        Kubeconfig.WriteAdmin(bad, pki.CaPem, host.Port, "not-the-token", owner: null);
        var cache = _dir.Combine("cache");

        var asAdmin = await Kubectl.RunAsync("--kubeconfig", admin, "--cache-dir", cache, "get", "--raw", "/version");
        var asNode = await Kubectl.RunAsync("--kubeconfig", node, "--cache-dir", cache, "get", "--raw", "/version");
        var asNobody = await Kubectl.RunAsync("--kubeconfig", bad, "--cache-dir", cache, "get", "--raw", "/version");

        Assert.True(asAdmin.ExitCode == 0, asAdmin.Stderr);
        Assert.Contains("\"user\":\"admin\"", asAdmin.Stdout, StringComparison.Ordinal);
        Assert.True(asNode.ExitCode == 0, asNode.Stderr);
        Assert.Contains("\"user\":\"system:serviceaccount:kube-system:node-n1\"", asNode.Stdout, StringComparison.Ordinal);
        Assert.NotEqual(0, asNobody.ExitCode);
        Assert.Contains("must be logged in", asNobody.Stderr, StringComparison.Ordinal);
    }

    private static async Task<string> RunAsync(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var output = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        return output;
    }
}
