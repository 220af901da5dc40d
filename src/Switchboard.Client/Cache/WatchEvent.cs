using k8s;
using k8s.Models;

namespace Switchboard.Client.Cache;

/// <summary>One decoded watch line: the object for ADDED/MODIFIED/DELETED/BOOKMARK, the Status for ERROR.</summary>
internal readonly record struct WatchEvent<T>(WatchEventType Type, T? Object, V1Status? Status);

/// <summary>One page of a paginated list.</summary>
internal sealed record ListPage<T>(IReadOnlyList<T> Items, string? ResourceVersion, string? Continue);
