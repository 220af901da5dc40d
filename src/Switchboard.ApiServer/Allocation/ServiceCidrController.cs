using System.Net;
using System.Net.Sockets;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Switchboard.Api.Serialization;
using Switchboard.ApiServer.Http;
using Switchboard.ApiServer.Registry;
using Switchboard.Core.Loops;

namespace Switchboard.ApiServer.Allocation;

/// <summary>What a pass decides for a ServiceCIDR that is being deleted.</summary>
internal enum ServiceCidrDeletion
{
    /// <summary>Nothing would be orphaned: the finalizer goes.</summary>
    Allowed,

    /// <summary>An allocator-managed IPAddress lies in no other ServiceCIDR: Ready=False, reason Terminating.</summary>
    Blocked,

    /// <summary>A reservation from its range is still creating its IPAddress object: look again shortly.</summary>
    Pending,
}

/// <summary>
/// ServiceCIDR lifecycle, in the API server process (see the README's "Services and allocation"). Each pass does what
/// three upstream v1.33 loops do: kube-apiserver's default ServiceCIDR controller (the `kubernetes` ServiceCIDR mirrors
/// --service-cluster-ip-range, recreated if gone), its MetaAllocator sync (ranges and their readiness, see
/// <see cref="ServiceAllocations.ApplyServiceCidrsAsync"/>) and kube-controller-manager's service-cidr-controller
/// (pkg/controller/servicecidrs): the `networking.k8s.io/service-cidr-finalizer` on every ServiceCIDR, Ready=True while
/// it lives, and on deletion the finalizer removed only once no allocator-managed IPAddress would be left outside
/// every ServiceCIDR; until then Ready=False with reason Terminating. Passes run on every ServiceCIDR write, on
/// IPAddress deletes while some ServiceCIDR is terminating, and every <see cref="ResyncInterval"/>.
/// </summary>
internal sealed partial class ServiceCidrController : IAsyncDisposable
{
    public const string Finalizer = "networking.k8s.io/service-cidr-finalizer";

    /// <summary>kube-controller-manager's name for the controller; its status writes carry it as field manager.</summary>
    public const string ControllerName = "service-cidr-controller";

    public const string ReadyMessage = "Kubernetes Service CIDR is ready";

    public const string TerminatingReason = "Terminating";

    public const string TerminatingMessage = "There are still IPAddresses referencing the ServiceCIDR, please remove them or create a new ServiceCIDR";

    /// <summary>Upstream's default ServiceCIDR controller syncs every 10 seconds.</summary>
    public static readonly TimeSpan ResyncInterval = TimeSpan.FromSeconds(10);

    /// <summary>How soon a pass looks again at a deletion that waits for reservations in flight (they take milliseconds).</summary>
    private static readonly TimeSpan PendingRetry = TimeSpan.FromMilliseconds(100);

    /// <summary>Upstream patches the finalizer without a field manager: kube-controller-manager's user agent names it.</summary>
    private static readonly WriteOptions FinalizerWriter = new(false, "kube-controller-manager");

    private static readonly WriteOptions StatusWriter = new(false, ControllerName);

    private readonly ServiceAllocations _allocations;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _runGate = new(1, 1);
    private readonly TriggeredLoop _loop;
    private ApiRegistry? _registry;
    private Func<CancellationToken, Task>? _ensureDefault;
    private volatile bool _anyTerminating;

    public ServiceCidrController(ServiceAllocations allocations, TimeProvider time, ILogger logger, TimeSpan interval)
    {
        _allocations = allocations;
        _time = time;
        _logger = logger;
        // A deletion waiting for reservations in flight is looked at again shortly.
        _loop = new TriggeredLoop(time, interval, RunOnceAsync, e => Log.PassFailed(logger, e), soon: PendingRetry);
    }

    /// <summary>Connects the registry (built after the strategies that hold this object) and the default ServiceCIDR's upkeep.</summary>
    public void Attach(ApiRegistry registry, Func<CancellationToken, Task>? ensureDefault)
    {
        _registry = registry;
        _ensureDefault = ensureDefault;
    }

    private ApiRegistry Registry => _registry ?? throw new InvalidOperationException("registry not attached");

    /// <summary>One pass now (start-up, before the API serves, and tests); true when a deletion waits for reservations in flight.</summary>
    public async Task<bool> RunOnceAsync(CancellationToken cancellationToken)
    {
        await _runGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await SyncAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _runGate.Release();
        }
    }

    public void Start() => _loop.Start();

    /// <summary>A ServiceCIDR was written: a pass soon.</summary>
    public void Trigger() => _loop.Trigger();

    /// <summary>An IPAddress went away: it may have been the last one holding a terminating ServiceCIDR.</summary>
    public void TriggerIfTerminating()
    {
        if (_anyTerminating)
        {
            Trigger();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _loop.DisposeAsync().ConfigureAwait(false);
        _runGate.Dispose();
    }


    private async Task<bool> SyncAsync(CancellationToken ct)
    {
        if (_ensureDefault is not null)
        {
            await _ensureDefault(ct).ConfigureAwait(false);
        }
        var storage = Registry.Find("networking.k8s.io", "ServiceCIDR")!;
        var list = await Registry.Store.ListAsync(storage.Info.StorePrefix, 0, null, 0, ct).ConfigureAwait(false);
        var cidrs = new List<V1ServiceCIDR>(list.Items.Count);
        foreach (var item in list.Items)
        {
            if (KubeJson.Deserialize<V1ServiceCIDR>(item.Value.Span) is { Metadata: not null } cidr)
            {
                cidrs.Add(cidr);
            }
        }

        // The allocator first: a terminating ServiceCIDR's ranges stop taking reservations before deletion is judged.
        await _allocations.ApplyServiceCidrsAsync(cidrs, ct).ConfigureAwait(false);
        var terminating = cidrs.Where(c => c.Metadata.DeletionTimestamp is not null && HasFinalizer(c)).ToList();
        _anyTerminating = cidrs.Any(c => c.Metadata.DeletionTimestamp is not null);

        foreach (var cidr in cidrs.Where(c => c.Metadata.DeletionTimestamp is null))
        {
            await EnsureFinalizerAsync(storage, cidr, ct).ConfigureAwait(false);
            await EnsureConditionAsync(storage, cidr, "True", "", ReadyMessage, ct).ConfigureAwait(false);
        }
        if (terminating.Count == 0)
        {
            return false;
        }

        // Reservations in flight are checked before the IPAddress objects are listed: none can start in a range that
        // is no longer ready, so every address taken from it is in the list. Upstream waits a fixed 10 s grace period
        // for its allocators (in other processes) to notice instead.
        var pending = terminating.Where(HasInFlight).Select(c => c.Metadata.Name).ToHashSet(StringComparer.Ordinal);
        var addresses = await _allocations.Objects.ListAsync(ct).ConfigureAwait(false);
        var prefixes = cidrs.Select(c => (Cidr: c, Prefixes: Prefixes(c))).ToList();
        var retry = false;
        foreach (var cidr in terminating)
        {
            switch (Judge(cidr, prefixes, addresses, pending.Contains(cidr.Metadata.Name)))
            {
                case ServiceCidrDeletion.Allowed:
                    Log.FinalizerRemoved(_logger, cidr.Metadata.Name);
                    await RemoveFinalizerAsync(storage, cidr, ct).ConfigureAwait(false);
                    break;
                case ServiceCidrDeletion.Blocked:
                    await EnsureConditionAsync(storage, cidr, "False", TerminatingReason, TerminatingMessage, ct).ConfigureAwait(false);
                    break;
                default:
                    retry = true;
                    break;
            }
        }
        return retry;
    }

    /// <summary>
    /// Upstream canDeleteCIDR: allowed when every CIDR of it lies inside another ServiceCIDR (or an equal one), else
    /// blocked while some allocator-managed IPAddress of its families is contained in it and in no other ServiceCIDR
    /// (terminating ones count as containing, as upstream's lister sees them).
    /// </summary>
    internal static ServiceCidrDeletion Judge(V1ServiceCIDR cidr, IReadOnlyList<(V1ServiceCIDR Cidr, List<Prefix> Prefixes)> all,
        IReadOnlyList<StoredIpAddress> addresses, bool reservationsInFlight)
    {
        var name = cidr.Metadata.Name;
        var own = Prefixes(cidr);
        var hasParent = true;
        foreach (var prefix in own)
        {
            var containers = all.Where(o => o.Prefixes.Any(p => p.Contains(prefix))).Select(o => o.Cidr.Metadata.Name).ToList();
            if (containers.Count == 0 || (containers.Count == 1 && containers[0] == name))
            {
                hasParent = false;
            }
        }
        if (hasParent)
        {
            return ServiceCidrDeletion.Allowed;
        }
        if (reservationsInFlight)
        {
            return ServiceCidrDeletion.Pending;
        }
        var families = own.Select(p => p.Family).ToHashSet();
        foreach (var address in addresses)
        {
            if (!address.ManagedByAllocator || IpText.Parse(address.Name) is not { } ip || !families.Contains(ip.AddressFamily))
            {
                continue;
            }
            var containing = all.Where(o => o.Prefixes.Any(p => p.Contains(ip))).Select(o => o.Cidr.Metadata.Name).Take(2).ToList();
            if (containing.Count == 1 && containing[0] == name)
            {
                return ServiceCidrDeletion.Blocked;
            }
        }
        return ServiceCidrDeletion.Allowed;
    }

    private bool HasInFlight(V1ServiceCIDR cidr)
    {
        var texts = Prefixes(cidr).Select(p => p.Text).ToHashSet(StringComparer.Ordinal);
        return _allocations.Ranges.Any(r => texts.Contains(r.Cidr.Text) && r.HasInFlight);
    }

    private static bool HasFinalizer(V1ServiceCIDR cidr) => cidr.Metadata.Finalizers?.Contains(Finalizer) == true;

    private static List<Prefix> Prefixes(V1ServiceCIDR cidr)
    {
        var result = new List<Prefix>();
        foreach (var text in cidr.Spec?.Cidrs ?? [])
        {
            if (IpText.ParseCidr(text) is { } parsed)
            {
                result.Add(new Prefix(parsed.Network, parsed.Prefix));
            }
        }
        return result;
    }

    private async Task EnsureFinalizerAsync(ResourceStorage storage, V1ServiceCIDR cidr, CancellationToken ct)
    {
        if (HasFinalizer(cidr))
        {
            return;
        }
        await WriteAsync(storage, cidr, UpdateTarget.Main, FinalizerWriter, c =>
        {
            // A deletion that started meanwhile may not gain a finalizer.
            if (c.Metadata.DeletionTimestamp is null && !HasFinalizer(c))
            {
                c.Metadata.Finalizers ??= [];
                c.Metadata.Finalizers.Add(Finalizer);
            }
        }, ct).ConfigureAwait(false);
    }

    private Task RemoveFinalizerAsync(ResourceStorage storage, V1ServiceCIDR cidr, CancellationToken ct) =>
        WriteAsync(storage, cidr, UpdateTarget.Main, FinalizerWriter, c => c.Metadata.Finalizers?.Remove(Finalizer), ct);

    /// <summary>Sets the Ready condition unless it already says this (a changed status moves lastTransitionTime).</summary>
    private async Task EnsureConditionAsync(ResourceStorage storage, V1ServiceCIDR cidr, string status, string reason, string message, CancellationToken ct)
    {
        var ready = cidr.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready");
        // Ready=True from the default ServiceCIDR's own controller (its own message) is left alone, as upstream's
        // controller leaves a matching condition.
        if (ready is not null && ready.Status == status && (status == "True" || (ready.Reason == reason && ready.Message == message)))
        {
            return;
        }
        var now = _time.GetUtcNow().UtcDateTime;
        now = new DateTime(now.Ticks - (now.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc);
        await WriteAsync(storage, cidr, UpdateTarget.Status, StatusWriter, c =>
        {
            c.Status ??= new V1ServiceCIDRStatus();
            var conditions = c.Status.Conditions?.ToList() ?? [];
            var existing = conditions.FirstOrDefault(x => x.Type == "Ready");
            var changed = existing is null || existing.Status != status;
            conditions.RemoveAll(x => x.Type == "Ready");
            conditions.Add(new V1Condition
            {
                Type = "Ready",
                Status = status,
                Reason = reason,
                Message = message,
                LastTransitionTime = changed ? now : existing!.LastTransitionTime,
            });
            c.Status.Conditions = conditions;
        }, ct).ConfigureAwait(false);
    }

    /// <summary>Updates the live object through the registry (validation, resourceVersion, watch events, managedFields).</summary>
    private async Task WriteAsync(ResourceStorage storage, V1ServiceCIDR cidr, UpdateTarget target, WriteOptions writer, Action<V1ServiceCIDR> change, CancellationToken ct)
    {
        var uid = cidr.Metadata.Uid;
        try
        {
            await storage.UpdateAsync(null, cidr.Metadata.Name, target, (obj, _) =>
            {
                var live = (V1ServiceCIDR)obj;
                // A ServiceCIDR deleted and recreated under the same name meanwhile is judged by the next pass.
                if (live.Metadata.Uid == uid)
                {
                    change(live);
                }
                return live;
            }, writer, ct).ConfigureAwait(false);
        }
        catch (ApiException e) when (e.Code == 404)
        {
            // Gone already: nothing to do.
        }
        catch (ApiException e) when (e.Code == 409)
        {
            Log.WriteConflict(_logger, cidr.Metadata.Name);
            Trigger();
        }
    }

    /// <summary>A parsed CIDR of a ServiceCIDR (any prefix length: containment only, no allocation).</summary>
    internal readonly record struct Prefix(IPAddress Network, int Bits)
    {
        private int Width => Network.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;

        public AddressFamily Family => Network.AddressFamily;

        public string Text => IpText.FormatCidr(Network, Bits);

        public bool Contains(IPAddress ip) =>
            ip.AddressFamily == Family && (IpText.ToNumber(ip) & IpText.PrefixMask(Bits, Width)) == IpText.ToNumber(Network);

        /// <summary>netip.Prefix containment: other lies inside this prefix (equal counts).</summary>
        public bool Contains(Prefix other) => other.Family == Family && other.Bits >= Bits && Contains(other.Network);
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "ServiceCIDR pass failed")]
        public static partial void PassFailed(ILogger logger, Exception exception);

        [LoggerMessage(Level = LogLevel.Information, Message = "ServiceCIDR {Name} no longer holds IPAddresses of its own: removing its finalizer")]
        public static partial void FinalizerRemoved(ILogger logger, string name);

        [LoggerMessage(Level = LogLevel.Debug, Message = "ServiceCIDR {Name} changed while it was being written; the next pass retries")]
        public static partial void WriteConflict(ILogger logger, string name);
    }
}
