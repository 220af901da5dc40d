using k8s;
using k8s.Models;
using Switchboard.Api.Serialization;

namespace Switchboard.ApiServer.Registry.Strategies;

/// <summary>Small pieces the networking strategies share.</summary>
internal static class StrategyHelpers
{
    /// <summary>True when two values differ in their served JSON (null and absent are equal).</summary>
    public static bool JsonDiffers<T>(T? a, T? b)
        where T : class
    {
        if (a is null || b is null)
        {
            return !ReferenceEquals(a, b);
        }
        return !KubeJson.Serialize(a, typeof(T)).AsSpan().SequenceEqual(KubeJson.Serialize(b, typeof(T)));
    }

    /// <summary>
    /// Upstream strategies bump metadata.generation in PrepareForUpdate, after defaulting; the generic storage
    /// counts before the strategy defaults, so kinds that default their spec recount here.
    /// </summary>
    public static void SetGeneration(IKubernetesObject<V1ObjectMeta> obj, IKubernetesObject<V1ObjectMeta> old, bool changed) =>
        obj.Metadata.Generation = (old.Metadata.Generation ?? 1) + (changed ? 1 : 0);
}
