using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using k8s;

namespace Switchboard.TestKit;

/// <summary>HttpClients that trust only a cluster's CA, for wire-level tests.</summary>
public static class ClusterHttp
{
    /// <summary>A client for base with the given bearer token (or none), trusting only ca.</summary>
    public static HttpClient Create(Uri baseAddress, X509Certificate2 ca, string? token, int maxConnections = int.MaxValue)
    {
        var handler = new HttpClientHandler
        {
            MaxConnectionsPerServer = maxConnections,
            ServerCertificateCustomValidationCallback = (_, cert, _, _) =>
            {
                if (cert is null)
                {
                    return false;
                }
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(cert);
            },
        };
        var client = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return client;
    }

    /// <summary>A client from a kubeconfig file (server, CA data and token), as kubectl would connect.</summary>
    public static HttpClient FromKubeconfig(string kubeconfigPath, int maxConnections = int.MaxValue)
    {
        var config = KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfigPath);
        var ca = config.SslCaCerts?.Cast<X509Certificate2>().FirstOrDefault() ?? throw new InvalidOperationException("kubeconfig has no CA data");
        return Create(new Uri(config.Host), ca, config.AccessToken, maxConnections);
    }
}
