using Switchboard.Api.Resources;

namespace Switchboard.Controllers.GarbageCollection;

/// <summary>
/// Where one object lives on the API and which incarnation it is. <see cref="Resource"/> is null when an owner
/// reference names a kind the catalogue does not serve: such an owner can never be looked up.
/// </summary>
internal sealed record ObjectIdentity(ResourceInfo? Resource, string ApiVersion, string Kind, string? Namespace, string Name, string Uid)
{
    public override string ToString() =>
        string.IsNullOrEmpty(Namespace) ? $"{Kind} {Name} (uid {Uid})" : $"{Kind} {Namespace}/{Name} (uid {Uid})";
}
