using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Client.Informers;
using Switchboard.Controllers.ServiceAccounts;
using Switchboard.Controllers.Tests.Support;

namespace Switchboard.Controllers.Tests.ServiceAccounts;

/// <summary>Functional: the real in-process API server; the controller on real informers.</summary>
public sealed class ServiceAccountsControllerTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    [Fact]
    public async Task NewNamespace_GetsDefaultServiceAccount_RecreatedAfterDelete()
    {
        var client = fixture.Server.Client;
        using var informers = new SharedInformerFactory(client);
        using var controller = new ServiceAccountsController(informers, client, NullLoggerFactory.Instance, TimeProvider.System);
        using var stop = new CancellationTokenSource();
        var run = Task.WhenAll(controller.RunAsync(stop.Token), informers.RunAsync(stop.Token));
        try
        {
            var ns = await Objects.CreateNamespaceAsync(client, "sa");
            await Poll.UntilAsync(async () => (await client.CoreV1.ListNamespacedServiceAccountAsync(ns)).Items.Any(a => a.Metadata.Name == "default"), "the default ServiceAccount");

            await client.CoreV1.DeleteNamespacedServiceAccountAsync("default", ns);
            await Poll.UntilAsync(async () => (await client.CoreV1.ListNamespacedServiceAccountAsync(ns)).Items.Any(a => a.Metadata.Name == "default" && a.Metadata.DeletionTimestamp is null), "the default ServiceAccount to come back");
            // Bootstrap namespaces get one too.
            await Poll.UntilAsync(async () => (await client.CoreV1.ListNamespacedServiceAccountAsync("kube-system")).Items.Any(a => a.Metadata.Name == "default"), "kube-system's default ServiceAccount");
        }
        finally
        {
            await stop.CancelAsync();
            try
            {
                await run;
            }
            catch (OperationCanceledException)
            {
            }
        }
    }
}
