using System.Collections.Immutable;

namespace Switchboard.Api.Resources;

/// <summary>One served resource: how it is named on the wire, in discovery and in the store.</summary>
public sealed record ResourceInfo
{
    public required string Group { get; init; }
    public required string Version { get; init; }
    public required string Kind { get; init; }
    /// <summary>Lower-case plural used in URLs (services).</summary>
    public required string Plural { get; init; }
    public required string Singular { get; init; }
    public required bool Namespaced { get; init; }
    /// <summary>The KubernetesClient model type (k8s.Models.V1Service, ...).</summary>
    public required Type ModelType { get; init; }
    public ImmutableArray<string> ShortNames { get; init; } = [];
    public ImmutableArray<string> Categories { get; init; } = [];
    /// <summary>Subresources served besides the object itself: status, scale, finalize, token.</summary>
    public ImmutableArray<string> Subresources { get; init; } = [];
    /// <summary>True when the kind has a status stanza that a plain write must not change (a status subresource exists).</summary>
    public bool HasStatusSubresource => Subresources.Contains("status");

    public string GroupVersion => Group.Length == 0 ? Version : Group + "/" + Version;
    public string ListKind => Kind + "List";

    /// <summary>Store key prefix for every object of this resource: /registry/[group/]plural/.</summary>
    public string StorePrefix => Group.Length == 0 ? "/registry/" + Plural + "/" : "/registry/" + Group + "/" + Plural + "/";

    /// <summary>Key of one object: prefix + (namespace/)name.</summary>
    public string Key(string? ns, string name) => Namespaced ? StorePrefix + ns + "/" + name : StorePrefix + name;

    /// <summary>Prefix that lists one namespace (or everything for cluster-scoped kinds when ns is null).</summary>
    public string ListPrefix(string? ns) => Namespaced && !string.IsNullOrEmpty(ns) ? StorePrefix + ns + "/" : StorePrefix;

    public static ImmutableArray<string> Verbs(bool namespaced) =>
        ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
}
