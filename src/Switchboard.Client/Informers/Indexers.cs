using k8s;
using k8s.Models;

namespace Switchboard.Client.Informers;

/// <summary>Well-known indexes; every informer has <see cref="Namespace"/>, others are added on request.</summary>
public static class Indexers
{
    /// <summary>Objects by metadata.namespace (client-go's NamespaceIndex).</summary>
    public const string Namespace = "namespace";

    /// <summary>
    /// Objects by "namespace/key=value" for each of their labels. Lets a lister answer "pods in ns matching this
    /// equality selector" from the narrowest label bucket instead of scanning the namespace.
    /// </summary>
    public const string NamespaceLabel = "namespace-label";

    /// <summary>Index function for <see cref="Namespace"/>.</summary>
    public static void ByNamespace<T>(T obj, ICollection<string> values)
        where T : IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(obj);
        ArgumentNullException.ThrowIfNull(values);
        values.Add(obj.Metadata?.NamespaceProperty ?? "");
    }

    /// <summary>Index function for <see cref="NamespaceLabel"/>.</summary>
    public static void ByNamespaceLabel<T>(T obj, ICollection<string> values)
        where T : IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(obj);
        ArgumentNullException.ThrowIfNull(values);
        if (obj.Metadata?.Labels is not { Count: > 0 } labels)
        {
            return;
        }
        var ns = obj.Metadata.NamespaceProperty ?? "";
        foreach (var (key, value) in labels)
        {
            values.Add(LabelKey(ns, key, value));
        }
    }

    /// <summary>The <see cref="NamespaceLabel"/> value for one label pair.</summary>
    public static string LabelKey(string? @namespace, string key, string value) =>
        string.Concat(@namespace ?? "", "/", key, "=", value);

    /// <summary>True when <paramref name="labels"/> contains every pair of the equality selector.</summary>
    public static bool Matches(IDictionary<string, string> selector, IDictionary<string, string>? labels)
    {
        ArgumentNullException.ThrowIfNull(selector);
        foreach (var (key, value) in selector)
        {
            if (labels is null || !labels.TryGetValue(key, out var actual) || !string.Equals(actual, value, StringComparison.Ordinal))
            {
                return false;
            }
        }
        return true;
    }
}
