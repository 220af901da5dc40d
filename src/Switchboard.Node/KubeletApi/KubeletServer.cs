using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Switchboard.Node.Runtime;

namespace Switchboard.Node.KubeletApi;

/// <summary>
/// The kubelet API (upstream pkg/kubelet/server): HTTPS with client certificates, serving /healthz,
/// /containerLogs, /exec, /attach and (not yet) /portForward for the Pods of this node.
/// </summary>
internal sealed partial class KubeletServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly X509Certificate2 _serving;
    private readonly bool _ownsServing;

    private KubeletServer(WebApplication app, X509Certificate2 serving, bool ownsServing, int port)
    {
        _app = app;
        _serving = serving;
        _ownsServing = ownsServing;
        Port = port;
    }

    /// <summary>The port actually bound (the configured one, or the one picked for port 0).</summary>
    public int Port { get; }

    public X509Certificate2 Certificate => _serving;

    public static async Task<KubeletServer> StartAsync(KubeletServerOptions options, IContainerLocator locator, ILoggerFactory loggerFactory,
        TimeProvider time, CancellationToken cancellationToken, IExecLauncher? launcher = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var auth = ClientCertificateAuthorizer.FromCaFile(options.ClientCaFile, time);
        var ownsServing = options.ServingCertificate is null;
        var serving = options.ServingCertificate ?? KubeletApi.ServingCertificate.CreateSelfSigned(options.NodeName, options.Addresses, time);
        try
        {
            var logger = loggerFactory.CreateLogger("Switchboard.Node.KubeletApi");
            var handler = new KubeletHandler(auth, locator, launcher ?? new ExecLauncher(),
                new ContainerLogStreamer(locator, time, options.LogPollInterval), logger);
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.Services.AddSingleton(loggerFactory);
            builder.WebHost.ConfigureKestrel(k =>
            {
                k.AddServerHeader = false;
                k.Limits.MinRequestBodyDataRate = null;
                foreach (var address in options.Addresses)
                {
                    k.Listen(address, options.Port, l =>
                    {
                        l.Protocols = HttpProtocols.Http1AndHttp2;
                        l.UseHttps(new HttpsConnectionAdapterOptions
                        {
                            ServerCertificate = serving,
                            // Asked for, not required at the TLS layer: a missing or foreign certificate gets an HTTP
                            // 401 from the handler, as upstream's kubelet answers, instead of a failed handshake.
                            ClientCertificateMode = ClientCertificateMode.AllowCertificate,
                            ClientCertificateValidation = (_, _, _) => true,
                        });
                    });
                }
            });
            var app = builder.Build();
            app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) });
            app.Run(handler.HandleAsync);
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            var port = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)).Port;
            Log.Started(logger, port);
            return new KubeletServer(app, serving, ownsServing, port);
        }
        catch
        {
            if (ownsServing)
            {
                serving.Dispose();
            }
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _app.StopAsync(deadline.Token).ConfigureAwait(false);
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false);
            if (_ownsServing)
            {
                _serving.Dispose();
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "kubelet API listening on port {Port}")]
        public static partial void Started(ILogger logger, int port);
    }
}
