using Switchboard.TestKit;

namespace Switchboard.Controllers.Tests.Support;

/// <summary>One real in-process API server per test class; tests isolate themselves by namespace.</summary>
public sealed class ApiServerFixture : IAsyncLifetime
{
    private TestApiServer? _server;

    public TestApiServer Server => _server ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => _server = await TestApiServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
