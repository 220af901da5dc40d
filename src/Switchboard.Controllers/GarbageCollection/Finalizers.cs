using k8s.Models;

namespace Switchboard.Controllers.GarbageCollection;

/// <summary>The finalizers through which the API server hands Orphan and Foreground deletion to the collector.</summary>
internal static class Finalizers
{
    /// <summary>Set by DELETE with propagationPolicy=Orphan: dependents lose their reference, then the owner goes.</summary>
    public const string Orphan = "orphan";

    /// <summary>Set by DELETE with propagationPolicy=Foreground: blocking dependents go first, then the owner.</summary>
    public const string ForegroundDeletion = "foregroundDeletion";

    public static bool Has(V1ObjectMeta meta, string finalizer) => meta.Finalizers?.Contains(finalizer) == true;

    /// <summary>Being deleted and waiting for the collector to orphan its dependents.</summary>
    public static bool IsOrphaning(V1ObjectMeta meta) => meta.DeletionTimestamp is not null && Has(meta, Orphan);

    /// <summary>Being deleted and waiting for its dependents to be deleted first.</summary>
    public static bool IsDeletingDependents(V1ObjectMeta meta) => meta.DeletionTimestamp is not null && Has(meta, ForegroundDeletion);
}
