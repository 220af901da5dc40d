using Switchboard.TestKit;

namespace Switchboard.ApiServer.Tests.Functional;

/// <summary>One in-process API server (in-memory store) shared by a test class; tests use unique namespaces.</summary>
public sealed class ApiServerFixture : IAsyncLifetime
{
    public TestApiServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await TestApiServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();

    public static string UniqueName(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];
}
