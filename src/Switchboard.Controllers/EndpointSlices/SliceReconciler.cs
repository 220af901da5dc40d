using k8s.Models;
using Switchboard.Controllers.Topology;

namespace Switchboard.Controllers.EndpointSlices;

/// <summary>What one sync of a Service will write: slices to create, update and delete, Events, and soft errors.</summary>
internal sealed class SlicePlan
{
    public List<V1EndpointSlice> ToCreate { get; } = [];

    public List<V1EndpointSlice> ToUpdate { get; } = [];

    public List<V1EndpointSlice> ToDelete { get; } = [];

    public List<HintEvent> Events { get; } = [];

    /// <summary>Pods skipped because their Node is unknown, counted per Node: the slices are written without them and the Service is retried.</summary>
    public Dictionary<string, int> MissingNodes { get; } = new(StringComparer.Ordinal);

    /// <summary>One line for logs and Events (upstream lists every pod; that grows with the Service, so it is summarized).</summary>
    public string? Error(string serviceKey)
    {
        if (MissingNodes.Count == 0)
        {
            return null;
        }
        var parts = MissingNodes.Take(3).Select(kv => $"skipping {kv.Value} Pod(s) for Service {serviceKey}: Node {kv.Key} Not Found");
        return string.Join("; ", parts) + (MissingNodes.Count > 3 ? $"; and {MissingNodes.Count - 3} more missing Nodes" : "");
    }

    public int Writes => ToCreate.Count + ToUpdate.Count + ToDelete.Count;
}

/// <summary>
/// The desired-state half of upstream's EndpointSlice reconciler, as a pure function of (Service, selected Pods,
/// existing slices, Nodes): which pods are endpoints and with what conditions, one slice family per address type,
/// port-set bucketing, churn-minimising packing, the placeholder slice, hints, and the merge of a create and a
/// delete into an update. The controller performs the writes.
/// </summary>
internal sealed class SliceReconciler(int maxEndpointsPerSlice, TopologyCache? topology, bool preferSameTrafficDistribution = true, string controllerName = EndpointSliceController.ControllerName)
{
    public string ControllerName => controllerName;

    /// <summary>Computes the writes that bring the Service's slices to the desired state.</summary>
    public SlicePlan Plan(V1Service service, IReadOnlyList<V1Pod> pods, IReadOnlyList<V1EndpointSlice> existing, Func<string, V1Node?> getNode, DateTime? triggerTime)
    {
        var plan = new SlicePlan();
        var supported = AddressTypesFor(service);
        var serviceKey = EndpointUtil.Key(service.Metadata.NamespaceProperty, service.Metadata.Name);
        var byType = new Dictionary<string, List<V1EndpointSlice>>(StringComparer.Ordinal);
        var unsupported = new List<V1EndpointSlice>();
        foreach (var slice in existing)
        {
            if (!supported.Contains(slice.AddressType))
            {
                topology?.RemoveHints(serviceKey, slice.AddressType);
                unsupported.Add(slice);
                continue;
            }
            if (!byType.TryGetValue(slice.AddressType, out var list))
            {
                list = [];
                byType[slice.AddressType] = list;
            }
            list.Add(slice);
        }

        foreach (var addressType in supported)
        {
            ReconcileByAddressType(plan, service, serviceKey, pods, byType.GetValueOrDefault(addressType) ?? [], getNode, triggerTime, addressType);
        }
        plan.ToDelete.AddRange(unsupported);
        return plan;
    }

    /// <summary>
    /// Upstream getAddressTypesForService: the Service's ipFamilies; without them (an old API server) the family
    /// of the ClusterIP, or both families for a headless Service.
    /// </summary>
    public static List<string> AddressTypesFor(V1Service service)
    {
        var result = new List<string>(2);
        foreach (var family in service.Spec?.IpFamilies ?? [])
        {
            var type = family switch { "IPv4" => EndpointUtil.AddressTypeIPv4, "IPv6" => EndpointUtil.AddressTypeIPv6, _ => null };
            if (type is not null && !result.Contains(type))
            {
                result.Add(type);
            }
        }
        if (result.Count > 0)
        {
            return result;
        }
        if (EndpointUtil.IsServiceIPSet(service))
        {
            result.Add(EndpointUtil.IsIPv6(service.Spec!.ClusterIP) ? EndpointUtil.AddressTypeIPv6 : EndpointUtil.AddressTypeIPv4);
            return result;
        }
        result.Add(EndpointUtil.AddressTypeIPv4);
        result.Add(EndpointUtil.AddressTypeIPv6);
        return result;
    }

    /// <summary>Upstream podToEndpoint.</summary>
    public static V1Endpoint PodToEndpoint(V1Pod pod, V1Node? node, V1Service service, string addressType)
    {
        var serving = EndpointUtil.IsPodReady(pod);
        var terminating = pod.Metadata.DeletionTimestamp is not null;
        // Never ready while terminating (compatibility), unless the Service publishes not-ready addresses.
        var ready = service.Spec?.PublishNotReadyAddresses == true || (serving && !terminating);
        string? zone = null;
        if (node?.Metadata.Labels?.TryGetValue(EndpointUtil.LabelTopologyZone, out var z) == true && z.Length > 0)
        {
            zone = z;
        }
        return new V1Endpoint
        {
            Addresses = EndpointUtil.PodAddresses(pod, addressType),
            Conditions = new V1EndpointConditions { Ready = ready, Serving = serving, Terminating = terminating },
            TargetRef = new V1ObjectReference { Kind = "Pod", NamespaceProperty = pod.Metadata.NamespaceProperty, Name = pod.Metadata.Name, Uid = pod.Metadata.Uid },
            NodeName = string.IsNullOrEmpty(pod.Spec?.NodeName) ? null : pod.Spec.NodeName,
            Zone = zone,
            Hostname = EndpointUtil.ShouldSetHostname(pod, service) ? pod.Spec!.Hostname : null,
        };
    }

    /// <summary>Upstream getEndpointPorts: each Service port resolved for this pod; unresolvable ones are left out.</summary>
    public static List<Discoveryv1EndpointPort> EndpointPorts(V1Service service, V1Pod pod)
    {
        var result = new List<Discoveryv1EndpointPort>();
        var ports = service.Spec?.Ports;
        if (ports is null || ports.Count == 0)
        {
            return result; // headless without ports (and anything else without ports) publishes none
        }
        foreach (var sp in ports)
        {
            if (!EndpointUtil.TryFindPort(pod, sp, out var number))
            {
                continue;
            }
            result.Add(new Discoveryv1EndpointPort { Name = sp.Name ?? "", Port = number, Protocol = sp.Protocol ?? "TCP", AppProtocol = sp.AppProtocol });
        }
        return result;
    }

    public static bool HintsEnabled(IDictionary<string, string>? annotations)
    {
        if (annotations is null)
        {
            return false;
        }
        // The deprecated annotation wins when both are present.
        if (!annotations.TryGetValue("service.kubernetes.io/topology-aware-hints", out var value)
            && !annotations.TryGetValue("service.kubernetes.io/topology-mode", out value))
        {
            return false;
        }
        return value is "Auto" or "auto";
    }

    private bool ValidTrafficDistribution(string? value) =>
        value == TrafficDistribution.PreferClose
        || (preferSameTrafficDistribution && value is TrafficDistribution.PreferSameZone or TrafficDistribution.PreferSameNode);

    private void ReconcileByAddressType(SlicePlan plan, V1Service service, string serviceKey, IReadOnlyList<V1Pod> pods, List<V1EndpointSlice> existing, Func<string, V1Node?> getNode, DateTime? triggerTime, string addressType)
    {
        var toCreate = new List<V1EndpointSlice>();
        var toUpdate = new List<V1EndpointSlice>();
        var toDelete = new List<V1EndpointSlice>();

        var existingByPortMap = new Dictionary<string, List<V1EndpointSlice>>(StringComparer.Ordinal);
        foreach (var slice in existing)
        {
            if (SliceUtil.OwnedBy(slice, service))
            {
                var key = SliceUtil.PortMapKey(slice.Ports);
                if (!existingByPortMap.TryGetValue(key, out var list))
                {
                    list = [];
                    existingByPortMap[key] = list;
                }
                list.Add(slice);
            }
            else
            {
                // A slice of an earlier Service with the same name (another uid): not ours to keep.
                toDelete.Add(slice);
            }
        }

        var desiredPorts = new Dictionary<string, List<Discoveryv1EndpointPort>>(StringComparer.Ordinal);
        var desired = new Dictionary<string, EndpointSet>(StringComparer.Ordinal);
        var publishNotReady = service.Spec?.PublishNotReadyAddresses == true;
        foreach (var pod in pods)
        {
            if (!EndpointUtil.ShouldPodBeInEndpoints(pod, includeTerminating: true))
            {
                continue;
            }
            var ports = EndpointPorts(service, pod);
            var portKey = SliceUtil.PortMapKey(ports);
            if (!desired.TryGetValue(portKey, out var set))
            {
                set = new EndpointSet();
                desired[portKey] = set;
                desiredPorts[portKey] = ports;
            }
            var nodeName = pod.Spec?.NodeName;
            var node = string.IsNullOrEmpty(nodeName) ? null : getNode(nodeName);
            if (node is null && !publishNotReady)
            {
                // Write the slices without the pod but retry: a pod must not stay out for good because its Node
                // showed up late, and a pod naming a Node that never comes must not block the Service.
                plan.MissingNodes[nodeName ?? ""] = plan.MissingNodes.GetValueOrDefault(nodeName ?? "") + 1;
                continue;
            }
            var endpoint = PodToEndpoint(pod, node, service, addressType);
            if (endpoint.Addresses.Count > 0)
            {
                set.Insert(endpoint);
            }
        }

        foreach (var (portKey, set) in desired)
        {
            var (c, u, d) = ReconcileByPortMapping(service, existingByPortMap.GetValueOrDefault(portKey) ?? [], set, desiredPorts[portKey], addressType);
            toCreate.AddRange(c);
            toUpdate.AddRange(u);
            toDelete.AddRange(d);
        }
        foreach (var (portKey, slices) in existingByPortMap)
        {
            if (!desired.ContainsKey(portKey))
            {
                toDelete.AddRange(slices);
            }
        }

        // A selecting Service always has at least one slice per address type, so consumers can tell "no
        // endpoints" from "not yet processed".
        if (existing.Count == toDelete.Count && toCreate.Count == 0)
        {
            var placeholder = SliceUtil.New(service, addressType, [], controllerName);
            if (toDelete.Count == 1 && SliceUtil.IsSamePlaceholder(toDelete[0], placeholder))
            {
                toDelete.Clear();
            }
            else
            {
                toCreate.Add(placeholder);
            }
        }

        var si = new SliceInfo
        {
            ServiceKey = serviceKey,
            AddressType = addressType,
            ToCreate = toCreate,
            ToUpdate = toUpdate,
            Unchanged = Unchanged(existing, toUpdate, toDelete),
        };
        var hintsEnabled = HintsEnabled(service.Metadata.Annotations);
        var useTrafficDistribution = ValidTrafficDistribution(service.Spec?.TrafficDistribution) && !hintsEnabled;
        if (topology is not null && hintsEnabled)
        {
            var (c, u, events) = topology.AddHints(si);
            toCreate = c;
            toUpdate = u;
            plan.Events.AddRange(events);
        }
        else
        {
            if (topology is not null)
            {
                if (topology.HasPopulatedHints(serviceKey))
                {
                    plan.Events.Add(HintEvent.Disabled(HintEvent.WithAddressType(HintEvent.TopologyAwareHintsDisabled, addressType)));
                }
                topology.RemoveHints(serviceKey, addressType);
            }
            if (!useTrafficDistribution)
            {
                (toCreate, toUpdate) = TopologyCache.RemoveHintsFromSlices(si);
            }
        }
        if (useTrafficDistribution)
        {
            (toCreate, toUpdate) = TrafficDistribution.ReconcileHints(service.Spec!.TrafficDistribution, toCreate, toUpdate, Unchanged(existing, toUpdate, toDelete));
        }

        Finalize(plan, service, toCreate, toUpdate, toDelete, triggerTime);
    }

    /// <summary>
    /// Upstream reconcileByPortMapping, for the slices of one port set: (1) in existing slices drop endpoints no
    /// longer desired and refresh changed ones; (2) top up the slices already being updated, fullest first; (3) put
    /// what is left into the unchanged slice that ends closest to full, else into new slices. Existing slices are
    /// never rebalanced: a change to one pod touches one slice.
    /// </summary>
    private (List<V1EndpointSlice> Create, List<V1EndpointSlice> Update, List<V1EndpointSlice> Delete) ReconcileByPortMapping(
        V1Service service, List<V1EndpointSlice> existing, EndpointSet desired, List<Discoveryv1EndpointPort> ports, string addressType)
    {
        var byName = new Dictionary<string, V1EndpointSlice>(StringComparer.Ordinal);
        var unchanged = new OrderedNames();
        var toUpdate = new OrderedNames();
        var toDelete = new OrderedNames();

        // 1. Remove unwanted endpoints, refresh changed ones, follow the Service's labels.
        foreach (var slice in existing)
        {
            var name = slice.Metadata.Name;
            byName[name] = slice;
            var kept = new List<V1Endpoint>(slice.Endpoints?.Count ?? 0);
            var updated = false;
            foreach (var endpoint in slice.Endpoints ?? [])
            {
                var want = desired.Get(endpoint);
                if (want is null)
                {
                    continue;
                }
                kept.Add(want);
                if (!SliceUtil.EndpointsEqualBeyondHash(want, endpoint))
                {
                    updated = true;
                }
                desired.Delete(endpoint);
            }

            var (labels, labelsChanged) = SliceUtil.Labels(slice, service, controllerName);
            if (updated || (slice.Endpoints?.Count ?? 0) != kept.Count)
            {
                if (kept.Count == 0)
                {
                    toDelete.Add(name);
                }
                else
                {
                    var copy = SliceUtil.Clone(slice);
                    copy.Endpoints = kept;
                    copy.Metadata.Labels = labels;
                    byName[name] = copy;
                    toUpdate.Add(name);
                }
            }
            else if (labelsChanged)
            {
                var copy = SliceUtil.Clone(slice);
                copy.Metadata.Labels = labels;
                byName[name] = copy;
                toUpdate.Add(name);
            }
            else
            {
                unchanged.Add(name);
            }
        }

        // 2. Fill the slices we are updating anyway, fullest first.
        if (desired.Count > 0 && toUpdate.Count > 0)
        {
            var filling = toUpdate.Names.Select(n => byName[n]).OrderByDescending(s => s.Endpoints.Count).ToList();
            foreach (var slice in filling)
            {
                while (desired.Count > 0 && slice.Endpoints.Count < maxEndpointsPerSlice)
                {
                    slice.Endpoints.Add(desired.PopAny()!);
                }
            }
        }

        // 3. Leftovers: one unchanged slice that fits them all (closest to full), else new slices.
        var toCreate = new List<V1EndpointSlice>();
        while (desired.Count > 0)
        {
            V1EndpointSlice? fill = null;
            if (desired.Count < maxEndpointsPerSlice && unchanged.Count > 0)
            {
                fill = SliceToFill(unchanged.Names.Select(n => byName[n]), desired.Count, maxEndpointsPerSlice);
            }
            if (fill is null)
            {
                fill = SliceUtil.New(service, addressType, ports, controllerName);
            }
            else
            {
                fill = SliceUtil.Clone(fill);
                byName[fill.Metadata.Name] = fill;
            }
            while (desired.Count > 0 && fill.Endpoints.Count < maxEndpointsPerSlice)
            {
                fill.Endpoints.Add(desired.PopAny()!);
            }
            if (!string.IsNullOrEmpty(fill.Metadata.Name))
            {
                toUpdate.Add(fill.Metadata.Name);
                unchanged.Remove(fill.Metadata.Name);
            }
            else
            {
                toCreate.Add(fill);
            }
        }

        return (toCreate, [.. toUpdate.Names.Select(n => byName[n])], [.. toDelete.Names.Select(n => byName[n])]);
    }

    /// <summary>Upstream getSliceToFill: the slice that ends closest to full after taking <paramref name="count"/> endpoints.</summary>
    private static V1EndpointSlice? SliceToFill(IEnumerable<V1EndpointSlice> slices, int count, int max)
    {
        var closestDiff = max;
        V1EndpointSlice? closest = null;
        foreach (var slice in slices)
        {
            var diff = max - (count + (slice.Endpoints?.Count ?? 0));
            if (diff >= 0 && diff < closestDiff)
            {
                closestDiff = diff;
                closest = slice;
                if (diff == 0)
                {
                    break;
                }
            }
        }
        return closest;
    }

    private static List<V1EndpointSlice> Unchanged(List<V1EndpointSlice> existing, List<V1EndpointSlice> toUpdate, List<V1EndpointSlice> toDelete)
    {
        var changed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in toUpdate)
        {
            changed.Add(s.Metadata.Name ?? "");
        }
        foreach (var s in toDelete)
        {
            changed.Add(s.Metadata.Name ?? "");
        }
        return [.. existing.Where(s => !changed.Contains(s.Metadata.Name ?? ""))];
    }

    /// <summary>
    /// Upstream finalize: a pending create and a pending delete of the same address type become one update of
    /// the old slice (fewer objects churned); nothing is created for a Service being deleted (the garbage collector
    /// would race us); every written slice carries the trigger time.
    /// </summary>
    private static void Finalize(SlicePlan plan, V1Service service, List<V1EndpointSlice> toCreate, List<V1EndpointSlice> toUpdate, List<V1EndpointSlice> toDelete, DateTime? triggerTime)
    {
        for (var i = 0; i < toDelete.Count;)
        {
            if (toCreate.Count == 0)
            {
                break;
            }
            var old = toDelete[i];
            var slice = toCreate[^1];
            if (old.AddressType == slice.AddressType && SliceUtil.OwnedBy(old, service))
            {
                slice.Metadata.Name = old.Metadata.Name;
                slice.Metadata.ResourceVersion = old.Metadata.ResourceVersion;
                slice.Metadata.Uid = old.Metadata.Uid;
                toCreate.RemoveAt(toCreate.Count - 1);
                toUpdate.Add(slice);
                toDelete.RemoveAt(i);
            }
            else
            {
                i++;
            }
        }

        if (service.Metadata.DeletionTimestamp is null)
        {
            foreach (var slice in toCreate)
            {
                SliceUtil.SetTriggerTime(slice, triggerTime);
                plan.ToCreate.Add(slice);
            }
        }
        foreach (var slice in toUpdate)
        {
            SliceUtil.SetTriggerTime(slice, triggerTime);
            plan.ToUpdate.Add(slice);
        }
        plan.ToDelete.AddRange(toDelete);
    }

    /// <summary>Insertion-ordered name set (upstream uses sets.String; order only matters for determinism).</summary>
    private sealed class OrderedNames
    {
        private readonly List<string> _names = [];
        private readonly HashSet<string> _set = new(StringComparer.Ordinal);

        public int Count => _set.Count;

        public IEnumerable<string> Names => _names.Where(_set.Contains);

        public void Add(string name)
        {
            if (_set.Add(name))
            {
                _names.Add(name);
            }
        }

        public void Remove(string name) => _set.Remove(name);
    }
}
