using System.Collections.Concurrent;
using System.Reflection;
using Switchboard.Api.Serialization;

namespace Switchboard.ApiServer.Registry;

/// <summary>Reads and writes the spec and status stanzas of any model type (by reflection, cached per type).</summary>
internal sealed class ModelAccessor
{
    private readonly PropertyInfo? _spec;
    private readonly PropertyInfo? _status;

    private ModelAccessor(Type type)
    {
        _spec = type.GetProperty("Spec");
        _status = type.GetProperty("Status");
    }

    public bool HasStatus => _status is not null;

    public static ModelAccessor For(Type type, ConcurrentDictionary<Type, ModelAccessor> cache) =>
        cache.GetOrAdd(type, t => new ModelAccessor(t));

    /// <summary>The status subresource rule: a main-resource write keeps the live status.</summary>
    public void CopyStatus(object from, object to)
    {
        if (_status is not null)
        {
            _status.SetValue(to, _status.GetValue(from));
        }
    }

    /// <summary>A status write keeps the live spec (and anything else but status, handled by the caller).</summary>
    public void CopySpec(object from, object to)
    {
        if (_spec is not null)
        {
            _spec.SetValue(to, _spec.GetValue(from));
        }
    }

    /// <summary>True when the spec stanzas differ (by their JSON encoding).</summary>
    public bool SpecDiffers(object a, object b)
    {
        if (_spec is null)
        {
            return false;
        }
        var sa = _spec.GetValue(a);
        var sb = _spec.GetValue(b);
        if (sa is null || sb is null)
        {
            return !ReferenceEquals(sa, sb);
        }
        return !KubeJson.Serialize(sa, _spec.PropertyType).AsSpan().SequenceEqual(KubeJson.Serialize(sb, _spec.PropertyType));
    }
}
