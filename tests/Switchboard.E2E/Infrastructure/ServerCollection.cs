namespace Switchboard.E2E.Infrastructure;

/// <summary>All E2E tests share one server and run serially (ARCHITECTURE.md §5).</summary>
[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<SwitchboardServerFixture>
{
    public const string Name = "switchboard server";
}
