using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Switchboard.ApiServer.Security;

/// <summary>
/// Writes kubeconfig files: one cluster (the CA inline), one token user, one context <c>switchboard</c> in
/// namespace default, selected as current. Written atomically with mode 0600 because they hold a bearer token.
/// </summary>
public static class Kubeconfig
{
    public const string ClusterName = "switchboard";
    public const string ContextName = "switchboard";
    public const string AdminUserName = "admin";

    /// <summary>The admin kubeconfig for the loopback listener, chowned to the sudo user when run under sudo.</summary>
    public static void WriteAdmin(string path, string caPem, int port, string token)
        => WriteAdmin(path, caPem, port, token, FileOwner.FromSudoEnvironment());

    public static void WriteAdmin(string path, string caPem, int port, string token, FileOwner? owner)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        Write(path, Render(caPem, LoopbackServer(port), token, AdminUserName), owner);
    }

    /// <summary>A node agent's kubeconfig: same CA, the server it can reach (the underlay address in <c>up</c>), its token.</summary>
    public static void WriteForNode(string path, string caPem, string server, string token, string nodeName, FileOwner? owner = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(nodeName);
        Write(path, Render(caPem, server, token, nodeName), owner);
    }

    public static string LoopbackServer(int port) => "https://127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture);

    public static string Render(string caPem, string server, string token, string userName, string @namespace = "default")
    {
        ArgumentException.ThrowIfNullOrEmpty(caPem);
        ArgumentException.ThrowIfNullOrEmpty(server);
        ArgumentException.ThrowIfNullOrEmpty(token);
        ArgumentException.ThrowIfNullOrEmpty(userName);
        ArgumentException.ThrowIfNullOrEmpty(@namespace);
        if (!Uri.TryCreate(server, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps)
        {
            throw new ArgumentException($"'{server}' is not an https URL", nameof(server));
        }

        var caData = Convert.ToBase64String(Encoding.UTF8.GetBytes(caPem));
        var sb = new StringBuilder(1024 + caData.Length);
        sb.Append("apiVersion: v1\n")
          .Append("kind: Config\n")
          .Append("clusters:\n")
          .Append("- name: ").Append(Quote(ClusterName)).Append('\n')
          .Append("  cluster:\n")
          .Append("    certificate-authority-data: ").Append(caData).Append('\n')
          .Append("    server: ").Append(Quote(server)).Append('\n')
          .Append("users:\n")
          .Append("- name: ").Append(Quote(userName)).Append('\n')
          .Append("  user:\n")
          .Append("    token: ").Append(Quote(token)).Append('\n')
          .Append("contexts:\n")
          .Append("- name: ").Append(Quote(ContextName)).Append('\n')
          .Append("  context:\n")
          .Append("    cluster: ").Append(Quote(ClusterName)).Append('\n')
          .Append("    user: ").Append(Quote(userName)).Append('\n')
          .Append("    namespace: ").Append(Quote(@namespace)).Append('\n')
          .Append("current-context: ").Append(Quote(ContextName)).Append('\n')
          .Append("preferences: {}\n");
        return sb.ToString();
    }

    private static void Write(string path, string yaml, FileOwner? owner)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        SecureFile.WriteAtomic(path, yaml, SecureFile.Private, owner);
    }

    // A JSON string is a valid YAML double-quoted scalar, so no value can break out of its field.
    private static string Quote(string value) => JsonSerializer.Serialize(value, KubeconfigJsonContext.Default.String);
}
