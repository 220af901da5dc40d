using System.Collections.Frozen;

namespace Switchboard.ApiServer.Protobuf;

/// <summary>
/// The one schema table the protobuf decoder reads: for each message, field number → JSON name, kind, shape and
/// message type. Field numbers are transcribed (not copied) from upstream's go-to-protobuf output:
/// <list type="bullet">
/// <item>core/v1: kubernetes/kubernetes staging/src/k8s.io/api/core/v1/generated.proto at commit
///   0032f46b5dcb893b0684679408a2da9bd26a0859 (a tree newer than v1.33).</item>
/// <item>apps/v1: kubernetes/kubernetes staging/src/k8s.io/api/apps/v1/generated.proto at commit
///   0122c43a017029d0572474da5a6382e1463f9710.</item>
/// <item>meta/v1: k8s.io/apimachinery pkg/apis/meta/v1/generated.proto as vendored in kubeadapt/kubeadapt-k8s-pulse at
///   commit 2d3917ec4aff355100569f652478025504b4c297 (ObjectMeta/OwnerReference numbers agree with kubernetes/kubernetes
///   at 779e95a083caa70ff94ce8668841112ba661fe60).</item>
/// <item>intstr, resource, runtime: kubernetes/kubernetes staging/src/k8s.io/apimachinery/pkg/{util/intstr,api/resource,
///   runtime}/generated.proto at commits 009a4a8bc0b3, 0f9f0907d6db and 203d8ac83844.</item>
/// </list>
/// Protobuf field numbers are never reused or renumbered, so a newer file gives v1.33's numbers. Fields added after
/// v1.33 are deliberately left out, so a v1.33 server skips them as unknown, as upstream v1.33 does:
/// Container.restartPolicyRules (25), EnvVarSource.fileKeyRef (5), PodSpec.hostnameOverride (41) and workloadRef (42),
/// VolumeProjection.podCertificate (6), SecurityContext.ulimits (13), DeploymentSpec.podReplacementPolicy (10).
/// Status stanzas are decoded as far as a create body carries them; status is owned by the status subresource.
/// </summary>
internal sealed class KubeProtoSchema
{
    private const bool Ptr = true;
    private const string Time = "meta.Time";
    private const string Quantity = "resource.Quantity";
    private const string IntOrString = "intstr.IntOrString";
    private const string LabelSelector = "meta.LabelSelector";
    private const string LocalObjectReference = "core.LocalObjectReference";

    private KubeProtoSchema()
    {
        Messages = Define().ToFrozenDictionary(m => m.Name, StringComparer.Ordinal);
        Roots = new Dictionary<(string, string), ProtoMessage>
        {
            [("v1", "Namespace")] = Message("core.Namespace"),
            [("v1", "ConfigMap")] = Message("core.ConfigMap"),
            [("v1", "Secret")] = Message("core.Secret"),
            [("v1", "Service")] = Message("core.Service"),
            [("v1", "ServiceAccount")] = Message("core.ServiceAccount"),
            [("v1", "Pod")] = Message("core.Pod"),
            [("apps/v1", "Deployment")] = Message("apps.Deployment"),
        }.ToFrozenDictionary();
        Unknown = Message("runtime.Unknown");
    }

    /// <summary>The schema is immutable; one instance serves every request.</summary>
    public static KubeProtoSchema Instance { get; } = new();

    public FrozenDictionary<string, ProtoMessage> Messages { get; }

    /// <summary>Top-level kinds, by (apiVersion, kind), that the decoder accepts.</summary>
    public FrozenDictionary<(string ApiVersion, string Kind), ProtoMessage> Roots { get; }

    /// <summary>runtime.Unknown, the envelope after the <c>k8s\0</c> magic.</summary>
    public ProtoMessage Unknown { get; }

    public ProtoMessage? FindRoot(string apiVersion, string kind) => Roots.GetValueOrDefault((apiVersion, kind));

    public ProtoMessage Message(string name) =>
        Messages.TryGetValue(name, out var m) ? m : throw new InvalidOperationException($"protobuf schema lacks message {name}");

    private static IEnumerable<ProtoMessage> Define()
    {
        // ---- k8s.io/apimachinery/pkg/runtime ----
        yield return M("runtime.Unknown", Msg(1, "typeMeta", "runtime.TypeMeta"), Bytes(2, "raw"), Str(3, "contentEncoding"), Str(4, "contentType"));
        yield return M("runtime.TypeMeta", Str(1, "apiVersion"), Str(2, "kind"));

        // ---- k8s.io/apimachinery/pkg/util/intstr and pkg/api/resource ----
        yield return Special("intstr.IntOrString", ProtoRendering.IntOrString, I64(1, "type"), I32(2, "intVal"), Str(3, "strVal"));
        yield return Special("resource.Quantity", ProtoRendering.Quantity, Str(1, "string"));

        // ---- k8s.io/apimachinery/pkg/apis/meta/v1 ----
        yield return Special("meta.Time", ProtoRendering.Time, I64(1, "seconds"), I32(2, "nanos"));
        yield return Special("meta.FieldsV1", ProtoRendering.RawJson, Bytes(1, "Raw"));
        yield return M("meta.ObjectMeta",
            Str(1, "name"), Str(2, "generateName"), Str(3, "namespace"), Str(4, "selfLink"), Str(5, "uid"),
            Str(6, "resourceVersion"), I64(7, "generation"), Msg(8, "creationTimestamp", Time), Msg(9, "deletionTimestamp", Time),
            I64(10, "deletionGracePeriodSeconds", Ptr), StrMap(11, "labels"), StrMap(12, "annotations"),
            Msgs(13, "ownerReferences", "meta.OwnerReference"), Strs(14, "finalizers"), Msgs(17, "managedFields", "meta.ManagedFieldsEntry"));
        yield return M("meta.OwnerReference",
            Str(5, "apiVersion"), Str(1, "kind"), Str(3, "name"), Str(4, "uid"), Bool(6, "controller", Ptr), Bool(7, "blockOwnerDeletion", Ptr));
        yield return M("meta.ManagedFieldsEntry",
            Str(1, "manager"), Str(2, "operation"), Str(3, "apiVersion"), Msg(4, "time", Time), Str(6, "fieldsType"),
            Msg(7, "fieldsV1", "meta.FieldsV1"), Str(8, "subresource"));
        yield return M("meta.LabelSelector", StrMap(1, "matchLabels"), Msgs(2, "matchExpressions", "meta.LabelSelectorRequirement"));
        yield return M("meta.LabelSelectorRequirement", Str(1, "key"), Str(2, "operator"), Strs(3, "values"));
        yield return M("meta.Condition",
            Str(1, "type"), Str(2, "status"), I64(3, "observedGeneration"), Msg(4, "lastTransitionTime", Time), Str(5, "reason"), Str(6, "message"));

        // ---- k8s.io/api/core/v1: the top-level kinds ----
        yield return M("core.Namespace", Msg(1, "metadata", "meta.ObjectMeta"), Msg(2, "spec", "core.NamespaceSpec"), Msg(3, "status", "core.NamespaceStatus"));
        yield return M("core.NamespaceSpec", Strs(1, "finalizers"));
        yield return M("core.NamespaceStatus", Str(1, "phase"), Msgs(2, "conditions", "core.NamespaceCondition"));
        yield return M("core.NamespaceCondition",
            Str(1, "type"), Str(2, "status"), Msg(4, "lastTransitionTime", Time), Str(5, "reason"), Str(6, "message"));
        yield return M("core.ConfigMap",
            Msg(1, "metadata", "meta.ObjectMeta"), Bool(4, "immutable", Ptr), StrMap(2, "data"), BytesMap(3, "binaryData"));
        yield return M("core.Secret",
            Msg(1, "metadata", "meta.ObjectMeta"), Bool(5, "immutable", Ptr), BytesMap(2, "data"), StrMap(4, "stringData"), Str(3, "type"));
        yield return M("core.ServiceAccount",
            Msg(1, "metadata", "meta.ObjectMeta"), Msgs(2, "secrets", "core.ObjectReference"), Msgs(3, "imagePullSecrets", LocalObjectReference),
            Bool(4, "automountServiceAccountToken", Ptr));
        yield return M("core.ObjectReference",
            Str(1, "kind"), Str(2, "namespace"), Str(3, "name"), Str(4, "uid"), Str(5, "apiVersion"), Str(6, "resourceVersion"), Str(7, "fieldPath"));
        yield return M(LocalObjectReference, Str(1, "name"));

        // Service
        yield return M("core.Service", Msg(1, "metadata", "meta.ObjectMeta"), Msg(2, "spec", "core.ServiceSpec"), Msg(3, "status", "core.ServiceStatus"));
        yield return M("core.ServiceSpec",
            Msgs(1, "ports", "core.ServicePort"), StrMap(2, "selector"), Str(3, "clusterIP"), Strs(18, "clusterIPs"), Str(4, "type"),
            Strs(5, "externalIPs"), Str(7, "sessionAffinity"), Str(8, "loadBalancerIP"), Strs(9, "loadBalancerSourceRanges"),
            Str(10, "externalName"), Str(11, "externalTrafficPolicy"), I32(12, "healthCheckNodePort"), Bool(13, "publishNotReadyAddresses"),
            Msg(14, "sessionAffinityConfig", "core.SessionAffinityConfig"), Strs(19, "ipFamilies"), Str(17, "ipFamilyPolicy", Ptr),
            Bool(20, "allocateLoadBalancerNodePorts", Ptr), Str(21, "loadBalancerClass", Ptr), Str(22, "internalTrafficPolicy", Ptr),
            Str(23, "trafficDistribution", Ptr));
        yield return M("core.ServicePort",
            Str(1, "name"), Str(2, "protocol"), Str(6, "appProtocol", Ptr), I32(3, "port"), Msg(4, "targetPort", IntOrString), I32(5, "nodePort"));
        yield return M("core.SessionAffinityConfig", Msg(1, "clientIP", "core.ClientIPConfig"));
        yield return M("core.ClientIPConfig", I32(1, "timeoutSeconds", Ptr));
        yield return M("core.ServiceStatus", Msg(1, "loadBalancer", "core.LoadBalancerStatus"), Msgs(2, "conditions", "meta.Condition"));
        yield return M("core.LoadBalancerStatus", Msgs(1, "ingress", "core.LoadBalancerIngress"));
        yield return M("core.LoadBalancerIngress", Str(1, "ip"), Str(2, "hostname"), Str(3, "ipMode", Ptr), Msgs(4, "ports", "core.PortStatus"));
        yield return M("core.PortStatus", I32(1, "port"), Str(2, "protocol"), Str(3, "error", Ptr));

        // Pod (kubectl run), and the pod template every workload embeds
        yield return M("core.Pod", Msg(1, "metadata", "meta.ObjectMeta"), Msg(2, "spec", "core.PodSpec"), Msg(3, "status", "core.PodStatus"));
        yield return M("core.PodStatus",
            I64(17, "observedGeneration"), Str(1, "phase"), Msgs(2, "conditions", "core.PodCondition"), Str(3, "message"), Str(4, "reason"),
            Str(11, "nominatedNodeName"), Str(5, "hostIP"), Msgs(16, "hostIPs", "core.HostIP"), Str(6, "podIP"), Msgs(12, "podIPs", "core.PodIP"),
            Msg(7, "startTime", Time), Str(9, "qosClass"), Str(14, "resize"));
        yield return M("core.PodCondition",
            Str(1, "type"), I64(7, "observedGeneration"), Str(2, "status"), Msg(3, "lastProbeTime", Time), Msg(4, "lastTransitionTime", Time),
            Str(5, "reason"), Str(6, "message"));
        yield return M("core.HostIP", Str(1, "ip"));
        yield return M("core.PodIP", Str(1, "ip"));
        yield return M("core.PodTemplateSpec", Msg(1, "metadata", "meta.ObjectMeta"), Msg(2, "spec", "core.PodSpec"));
        yield return M("core.PodSpec",
            Msgs(1, "volumes", "core.Volume"), Msgs(20, "initContainers", "core.Container"), Msgs(2, "containers", "core.Container"),
            Msgs(34, "ephemeralContainers", "core.EphemeralContainer"), Str(3, "restartPolicy"), I64(4, "terminationGracePeriodSeconds", Ptr),
            I64(5, "activeDeadlineSeconds", Ptr), Str(6, "dnsPolicy"), StrMap(7, "nodeSelector"), Str(8, "serviceAccountName"),
            Str(9, "serviceAccount"), Bool(21, "automountServiceAccountToken", Ptr), Str(10, "nodeName"), Bool(11, "hostNetwork"),
            Bool(12, "hostPID"), Bool(13, "hostIPC"), Bool(27, "shareProcessNamespace", Ptr), Msg(14, "securityContext", "core.PodSecurityContext"),
            Msgs(15, "imagePullSecrets", LocalObjectReference), Str(16, "hostname"), Str(17, "subdomain"), Msg(18, "affinity", "core.Affinity"),
            Str(19, "schedulerName"), Msgs(22, "tolerations", "core.Toleration"), Msgs(23, "hostAliases", "core.HostAlias"),
            Str(24, "priorityClassName"), I32(25, "priority", Ptr), Msg(26, "dnsConfig", "core.PodDNSConfig"),
            Msgs(28, "readinessGates", "core.PodReadinessGate"), Str(29, "runtimeClassName", Ptr), Bool(30, "enableServiceLinks", Ptr),
            Str(31, "preemptionPolicy", Ptr), QtyMap(32, "overhead"), Msgs(33, "topologySpreadConstraints", "core.TopologySpreadConstraint"),
            Bool(35, "setHostnameAsFQDN", Ptr), Msg(36, "os", "core.PodOS"), Bool(37, "hostUsers", Ptr),
            Msgs(38, "schedulingGates", "core.PodSchedulingGate"), Msgs(39, "resourceClaims", "core.PodResourceClaim"),
            Msg(40, "resources", "core.ResourceRequirements"));
        yield return M("core.PodOS", Str(1, "name"));
        yield return M("core.PodReadinessGate", Str(1, "conditionType"));
        yield return M("core.PodSchedulingGate", Str(1, "name"));
        yield return M("core.PodResourceClaim", Str(1, "name"), Str(3, "resourceClaimName", Ptr), Str(4, "resourceClaimTemplateName", Ptr));
        yield return M("core.HostAlias", Str(1, "ip"), Strs(2, "hostnames"));
        yield return M("core.PodDNSConfig", Strs(1, "nameservers"), Strs(2, "searches"), Msgs(3, "options", "core.PodDNSConfigOption"));
        yield return M("core.PodDNSConfigOption", Str(1, "name"), Str(2, "value", Ptr));
        yield return M("core.Toleration", Str(1, "key"), Str(2, "operator"), Str(3, "value"), Str(4, "effect"), I64(5, "tolerationSeconds", Ptr));
        yield return M("core.TopologySpreadConstraint",
            I32(1, "maxSkew"), Str(2, "topologyKey"), Str(3, "whenUnsatisfiable"), Msg(4, "labelSelector", LabelSelector),
            I32(5, "minDomains", Ptr), Str(6, "nodeAffinityPolicy", Ptr), Str(7, "nodeTaintsPolicy", Ptr), Strs(8, "matchLabelKeys"));
        yield return M("core.PodSecurityContext",
            Msg(1, "seLinuxOptions", "core.SELinuxOptions"), Msg(8, "windowsOptions", "core.WindowsSecurityContextOptions"),
            I64(2, "runAsUser", Ptr), I64(6, "runAsGroup", Ptr), Bool(3, "runAsNonRoot", Ptr), I64s(4, "supplementalGroups"),
            Str(12, "supplementalGroupsPolicy", Ptr), I64(5, "fsGroup", Ptr), Msgs(7, "sysctls", "core.Sysctl"),
            Str(9, "fsGroupChangePolicy", Ptr), Msg(10, "seccompProfile", "core.SeccompProfile"), Msg(11, "appArmorProfile", "core.AppArmorProfile"),
            Str(13, "seLinuxChangePolicy", Ptr));
        yield return M("core.Sysctl", Str(1, "name"), Str(2, "value"));

        // Affinity
        yield return M("core.Affinity",
            Msg(1, "nodeAffinity", "core.NodeAffinity"), Msg(2, "podAffinity", "core.PodAffinity"), Msg(3, "podAntiAffinity", "core.PodAntiAffinity"));
        yield return M("core.NodeAffinity",
            Msg(1, "requiredDuringSchedulingIgnoredDuringExecution", "core.NodeSelector"),
            Msgs(2, "preferredDuringSchedulingIgnoredDuringExecution", "core.PreferredSchedulingTerm"));
        yield return M("core.NodeSelector", Msgs(1, "nodeSelectorTerms", "core.NodeSelectorTerm"));
        yield return M("core.NodeSelectorTerm",
            Msgs(1, "matchExpressions", "core.NodeSelectorRequirement"), Msgs(2, "matchFields", "core.NodeSelectorRequirement"));
        yield return M("core.NodeSelectorRequirement", Str(1, "key"), Str(2, "operator"), Strs(3, "values"));
        yield return M("core.PreferredSchedulingTerm", I32(1, "weight"), Msg(2, "preference", "core.NodeSelectorTerm"));
        yield return M("core.PodAffinity",
            Msgs(1, "requiredDuringSchedulingIgnoredDuringExecution", "core.PodAffinityTerm"),
            Msgs(2, "preferredDuringSchedulingIgnoredDuringExecution", "core.WeightedPodAffinityTerm"));
        yield return M("core.PodAntiAffinity",
            Msgs(1, "requiredDuringSchedulingIgnoredDuringExecution", "core.PodAffinityTerm"),
            Msgs(2, "preferredDuringSchedulingIgnoredDuringExecution", "core.WeightedPodAffinityTerm"));
        yield return M("core.PodAffinityTerm",
            Msg(1, "labelSelector", LabelSelector), Strs(2, "namespaces"), Str(3, "topologyKey"), Msg(4, "namespaceSelector", LabelSelector),
            Strs(5, "matchLabelKeys"), Strs(6, "mismatchLabelKeys"));
        yield return M("core.WeightedPodAffinityTerm", I32(1, "weight"), Msg(2, "podAffinityTerm", "core.PodAffinityTerm"));

        // Containers
        ProtoField[] container =
        [
            Str(1, "name"), Str(2, "image"), Strs(3, "command"), Strs(4, "args"), Str(5, "workingDir"), Msgs(6, "ports", "core.ContainerPort"),
            Msgs(19, "envFrom", "core.EnvFromSource"), Msgs(7, "env", "core.EnvVar"), Msg(8, "resources", "core.ResourceRequirements"),
            Msgs(23, "resizePolicy", "core.ContainerResizePolicy"), Str(24, "restartPolicy", Ptr), Msgs(9, "volumeMounts", "core.VolumeMount"),
            Msgs(21, "volumeDevices", "core.VolumeDevice"), Msg(10, "livenessProbe", "core.Probe"), Msg(11, "readinessProbe", "core.Probe"),
            Msg(22, "startupProbe", "core.Probe"), Msg(12, "lifecycle", "core.Lifecycle"), Str(13, "terminationMessagePath"),
            Str(20, "terminationMessagePolicy"), Str(14, "imagePullPolicy"), Msg(15, "securityContext", "core.SecurityContext"),
            Bool(16, "stdin"), Bool(17, "stdinOnce"), Bool(18, "tty"),
        ];
        yield return M("core.Container", container);
        // EphemeralContainerCommon repeats Container's fields with the same numbers (upstream keeps them in sync).
        yield return M("core.EphemeralContainerCommon", container);
        yield return M("core.EphemeralContainer", Embedded(1, "ephemeralContainerCommon", "core.EphemeralContainerCommon"), Str(2, "targetContainerName"));
        yield return M("core.ContainerPort", Str(1, "name"), I32(2, "hostPort"), I32(3, "containerPort"), Str(4, "protocol"), Str(5, "hostIP"));
        yield return M("core.ContainerResizePolicy", Str(1, "resourceName"), Str(2, "restartPolicy"));
        yield return M("core.EnvVar", Str(1, "name"), Str(2, "value"), Msg(3, "valueFrom", "core.EnvVarSource"));
        yield return M("core.EnvVarSource",
            Msg(1, "fieldRef", "core.ObjectFieldSelector"), Msg(2, "resourceFieldRef", "core.ResourceFieldSelector"),
            Msg(3, "configMapKeyRef", "core.ConfigMapKeySelector"), Msg(4, "secretKeyRef", "core.SecretKeySelector"));
        yield return M("core.ObjectFieldSelector", Str(1, "apiVersion"), Str(2, "fieldPath"));
        yield return M("core.ResourceFieldSelector", Str(1, "containerName"), Str(2, "resource"), Msg(3, "divisor", Quantity));
        yield return M("core.ConfigMapKeySelector", Embedded(1, "localObjectReference", LocalObjectReference), Str(2, "key"), Bool(3, "optional", Ptr));
        yield return M("core.SecretKeySelector", Embedded(1, "localObjectReference", LocalObjectReference), Str(2, "key"), Bool(3, "optional", Ptr));
        yield return M("core.EnvFromSource",
            Str(1, "prefix"), Msg(2, "configMapRef", "core.ConfigMapEnvSource"), Msg(3, "secretRef", "core.SecretEnvSource"));
        yield return M("core.ConfigMapEnvSource", Embedded(1, "localObjectReference", LocalObjectReference), Bool(2, "optional", Ptr));
        yield return M("core.SecretEnvSource", Embedded(1, "localObjectReference", LocalObjectReference), Bool(2, "optional", Ptr));
        yield return M("core.ResourceRequirements", QtyMap(1, "limits"), QtyMap(2, "requests"), Msgs(3, "claims", "core.ResourceClaim"));
        yield return M("core.ResourceClaim", Str(1, "name"), Str(2, "request"));
        yield return M("core.VolumeMount",
            Str(1, "name"), Bool(2, "readOnly"), Str(7, "recursiveReadOnly", Ptr), Str(3, "mountPath"), Str(4, "subPath"),
            Str(5, "mountPropagation", Ptr), Str(6, "subPathExpr"));
        yield return M("core.VolumeDevice", Str(1, "name"), Str(2, "devicePath"));
        yield return M("core.Probe",
            Embedded(1, "handler", "core.ProbeHandler"), I32(2, "initialDelaySeconds"), I32(3, "timeoutSeconds"), I32(4, "periodSeconds"),
            I32(5, "successThreshold"), I32(6, "failureThreshold"), I64(7, "terminationGracePeriodSeconds", Ptr));
        yield return M("core.ProbeHandler",
            Msg(1, "exec", "core.ExecAction"), Msg(2, "httpGet", "core.HTTPGetAction"), Msg(3, "tcpSocket", "core.TCPSocketAction"),
            Msg(4, "grpc", "core.GRPCAction"));
        yield return M("core.ExecAction", Strs(1, "command"));
        yield return M("core.HTTPGetAction",
            Str(1, "path"), Msg(2, "port", IntOrString), Str(3, "host"), Str(4, "scheme"), Msgs(5, "httpHeaders", "core.HTTPHeader"));
        yield return M("core.HTTPHeader", Str(1, "name"), Str(2, "value"));
        yield return M("core.TCPSocketAction", Msg(1, "port", IntOrString), Str(2, "host"));
        yield return M("core.GRPCAction", I32(1, "port"), Str(2, "service", Ptr));
        yield return M("core.Lifecycle",
            Msg(1, "postStart", "core.LifecycleHandler"), Msg(2, "preStop", "core.LifecycleHandler"), Str(3, "stopSignal", Ptr));
        yield return M("core.LifecycleHandler",
            Msg(1, "exec", "core.ExecAction"), Msg(2, "httpGet", "core.HTTPGetAction"), Msg(3, "tcpSocket", "core.TCPSocketAction"),
            Msg(4, "sleep", "core.SleepAction"));
        yield return M("core.SleepAction", I64(1, "seconds"));
        yield return M("core.SecurityContext",
            Msg(1, "capabilities", "core.Capabilities"), Bool(2, "privileged", Ptr), Msg(3, "seLinuxOptions", "core.SELinuxOptions"),
            Msg(10, "windowsOptions", "core.WindowsSecurityContextOptions"), I64(4, "runAsUser", Ptr), I64(8, "runAsGroup", Ptr),
            Bool(5, "runAsNonRoot", Ptr), Bool(6, "readOnlyRootFilesystem", Ptr), Bool(7, "allowPrivilegeEscalation", Ptr),
            Str(9, "procMount", Ptr), Msg(11, "seccompProfile", "core.SeccompProfile"), Msg(12, "appArmorProfile", "core.AppArmorProfile"));
        yield return M("core.Capabilities", Strs(1, "add"), Strs(2, "drop"));
        yield return M("core.SELinuxOptions", Str(1, "user"), Str(2, "role"), Str(3, "type"), Str(4, "level"));
        yield return M("core.WindowsSecurityContextOptions",
            Str(1, "gmsaCredentialSpecName", Ptr), Str(2, "gmsaCredentialSpec", Ptr), Str(3, "runAsUserName", Ptr), Bool(4, "hostProcess", Ptr));
        yield return M("core.SeccompProfile", Str(1, "type"), Str(2, "localhostProfile", Ptr));
        yield return M("core.AppArmorProfile", Str(1, "type"), Str(2, "localhostProfile", Ptr));

        // Volumes
        yield return M("core.Volume", Str(1, "name"), Embedded(2, "volumeSource", "core.VolumeSource"));
        yield return M("core.VolumeSource",
            Msg(1, "hostPath", "core.HostPathVolumeSource"), Msg(2, "emptyDir", "core.EmptyDirVolumeSource"),
            Msg(3, "gcePersistentDisk", "core.GCEPersistentDiskVolumeSource"), Msg(4, "awsElasticBlockStore", "core.AWSElasticBlockStoreVolumeSource"),
            Msg(5, "gitRepo", "core.GitRepoVolumeSource"), Msg(6, "secret", "core.SecretVolumeSource"), Msg(7, "nfs", "core.NFSVolumeSource"),
            Msg(8, "iscsi", "core.ISCSIVolumeSource"), Msg(9, "glusterfs", "core.GlusterfsVolumeSource"),
            Msg(10, "persistentVolumeClaim", "core.PersistentVolumeClaimVolumeSource"), Msg(11, "rbd", "core.RBDVolumeSource"),
            Msg(12, "flexVolume", "core.FlexVolumeSource"), Msg(13, "cinder", "core.CinderVolumeSource"), Msg(14, "cephfs", "core.CephFSVolumeSource"),
            Msg(15, "flocker", "core.FlockerVolumeSource"), Msg(16, "downwardAPI", "core.DownwardAPIVolumeSource"), Msg(17, "fc", "core.FCVolumeSource"),
            Msg(18, "azureFile", "core.AzureFileVolumeSource"), Msg(19, "configMap", "core.ConfigMapVolumeSource"),
            Msg(20, "vsphereVolume", "core.VsphereVirtualDiskVolumeSource"), Msg(21, "quobyte", "core.QuobyteVolumeSource"),
            Msg(22, "azureDisk", "core.AzureDiskVolumeSource"), Msg(23, "photonPersistentDisk", "core.PhotonPersistentDiskVolumeSource"),
            Msg(26, "projected", "core.ProjectedVolumeSource"), Msg(24, "portworxVolume", "core.PortworxVolumeSource"),
            Msg(25, "scaleIO", "core.ScaleIOVolumeSource"), Msg(27, "storageos", "core.StorageOSVolumeSource"), Msg(28, "csi", "core.CSIVolumeSource"),
            Msg(29, "ephemeral", "core.EphemeralVolumeSource"), Msg(30, "image", "core.ImageVolumeSource"));
        yield return M("core.HostPathVolumeSource", Str(1, "path"), Str(2, "type", Ptr));
        yield return M("core.EmptyDirVolumeSource", Str(1, "medium"), Msg(2, "sizeLimit", Quantity));
        yield return M("core.GCEPersistentDiskVolumeSource", Str(1, "pdName"), Str(2, "fsType"), I32(3, "partition"), Bool(4, "readOnly"));
        yield return M("core.AWSElasticBlockStoreVolumeSource", Str(1, "volumeID"), Str(2, "fsType"), I32(3, "partition"), Bool(4, "readOnly"));
        yield return M("core.GitRepoVolumeSource", Str(1, "repository"), Str(2, "revision"), Str(3, "directory"));
        yield return M("core.SecretVolumeSource",
            Str(1, "secretName"), Msgs(2, "items", "core.KeyToPath"), I32(3, "defaultMode", Ptr), Bool(4, "optional", Ptr));
        yield return M("core.NFSVolumeSource", Str(1, "server"), Str(2, "path"), Bool(3, "readOnly"));
        yield return M("core.ISCSIVolumeSource",
            Str(1, "targetPortal"), Str(2, "iqn"), I32(3, "lun"), Str(4, "iscsiInterface"), Str(5, "fsType"), Bool(6, "readOnly"),
            Strs(7, "portals"), Bool(8, "chapAuthDiscovery"), Bool(11, "chapAuthSession"), Msg(10, "secretRef", LocalObjectReference),
            Str(12, "initiatorName", Ptr));
        yield return M("core.GlusterfsVolumeSource", Str(1, "endpoints"), Str(2, "path"), Bool(3, "readOnly"));
        yield return M("core.PersistentVolumeClaimVolumeSource", Str(1, "claimName"), Bool(2, "readOnly"));
        yield return M("core.RBDVolumeSource",
            Strs(1, "monitors"), Str(2, "image"), Str(3, "fsType"), Str(4, "pool"), Str(5, "user"), Str(6, "keyring"),
            Msg(7, "secretRef", LocalObjectReference), Bool(8, "readOnly"));
        yield return M("core.FlexVolumeSource",
            Str(1, "driver"), Str(2, "fsType"), Msg(3, "secretRef", LocalObjectReference), Bool(4, "readOnly"), StrMap(5, "options"));
        yield return M("core.CinderVolumeSource", Str(1, "volumeID"), Str(2, "fsType"), Bool(3, "readOnly"), Msg(4, "secretRef", LocalObjectReference));
        yield return M("core.CephFSVolumeSource",
            Strs(1, "monitors"), Str(2, "path"), Str(3, "user"), Str(4, "secretFile"), Msg(5, "secretRef", LocalObjectReference), Bool(6, "readOnly"));
        yield return M("core.FlockerVolumeSource", Str(1, "datasetName"), Str(2, "datasetUUID"));
        yield return M("core.DownwardAPIVolumeSource", Msgs(1, "items", "core.DownwardAPIVolumeFile"), I32(2, "defaultMode", Ptr));
        yield return M("core.DownwardAPIVolumeFile",
            Str(1, "path"), Msg(2, "fieldRef", "core.ObjectFieldSelector"), Msg(3, "resourceFieldRef", "core.ResourceFieldSelector"),
            I32(4, "mode", Ptr));
        yield return M("core.FCVolumeSource", Strs(1, "targetWWNs"), I32(2, "lun", Ptr), Str(3, "fsType"), Bool(4, "readOnly"), Strs(5, "wwids"));
        yield return M("core.AzureFileVolumeSource", Str(1, "secretName"), Str(2, "shareName"), Bool(3, "readOnly"));
        yield return M("core.ConfigMapVolumeSource",
            Embedded(1, "localObjectReference", LocalObjectReference), Msgs(2, "items", "core.KeyToPath"), I32(3, "defaultMode", Ptr),
            Bool(4, "optional", Ptr));
        yield return M("core.KeyToPath", Str(1, "key"), Str(2, "path"), I32(3, "mode", Ptr));
        yield return M("core.VsphereVirtualDiskVolumeSource",
            Str(1, "volumePath"), Str(2, "fsType"), Str(3, "storagePolicyName"), Str(4, "storagePolicyID"));
        yield return M("core.QuobyteVolumeSource",
            Str(1, "registry"), Str(2, "volume"), Bool(3, "readOnly"), Str(4, "user"), Str(5, "group"), Str(6, "tenant"));
        yield return M("core.AzureDiskVolumeSource",
            Str(1, "diskName"), Str(2, "diskURI"), Str(3, "cachingMode", Ptr), Str(4, "fsType", Ptr), Bool(5, "readOnly", Ptr), Str(6, "kind", Ptr));
        yield return M("core.PhotonPersistentDiskVolumeSource", Str(1, "pdID"), Str(2, "fsType"));
        yield return M("core.ProjectedVolumeSource", Msgs(1, "sources", "core.VolumeProjection"), I32(2, "defaultMode", Ptr));
        yield return M("core.VolumeProjection",
            Msg(1, "secret", "core.SecretProjection"), Msg(2, "downwardAPI", "core.DownwardAPIProjection"),
            Msg(3, "configMap", "core.ConfigMapProjection"), Msg(4, "serviceAccountToken", "core.ServiceAccountTokenProjection"),
            Msg(5, "clusterTrustBundle", "core.ClusterTrustBundleProjection"));
        yield return M("core.SecretProjection",
            Embedded(1, "localObjectReference", LocalObjectReference), Msgs(2, "items", "core.KeyToPath"), Bool(4, "optional", Ptr));
        yield return M("core.ConfigMapProjection",
            Embedded(1, "localObjectReference", LocalObjectReference), Msgs(2, "items", "core.KeyToPath"), Bool(4, "optional", Ptr));
        yield return M("core.DownwardAPIProjection", Msgs(1, "items", "core.DownwardAPIVolumeFile"));
        yield return M("core.ServiceAccountTokenProjection", Str(1, "audience"), I64(2, "expirationSeconds", Ptr), Str(3, "path"));
        yield return M("core.ClusterTrustBundleProjection",
            Str(1, "name", Ptr), Str(2, "signerName", Ptr), Msg(3, "labelSelector", LabelSelector), Bool(5, "optional", Ptr), Str(4, "path"));
        yield return M("core.PortworxVolumeSource", Str(1, "volumeID"), Str(2, "fsType"), Bool(3, "readOnly"));
        yield return M("core.ScaleIOVolumeSource",
            Str(1, "gateway"), Str(2, "system"), Msg(3, "secretRef", LocalObjectReference), Bool(4, "sslEnabled"), Str(5, "protectionDomain"),
            Str(6, "storagePool"), Str(7, "storageMode"), Str(8, "volumeName"), Str(9, "fsType"), Bool(10, "readOnly"));
        yield return M("core.StorageOSVolumeSource",
            Str(1, "volumeName"), Str(2, "volumeNamespace"), Str(3, "fsType"), Bool(4, "readOnly"), Msg(5, "secretRef", LocalObjectReference));
        yield return M("core.CSIVolumeSource",
            Str(1, "driver"), Bool(2, "readOnly", Ptr), Str(3, "fsType", Ptr), StrMap(4, "volumeAttributes"),
            Msg(5, "nodePublishSecretRef", LocalObjectReference));
        yield return M("core.EphemeralVolumeSource", Msg(1, "volumeClaimTemplate", "core.PersistentVolumeClaimTemplate"));
        yield return M("core.PersistentVolumeClaimTemplate", Msg(1, "metadata", "meta.ObjectMeta"), Msg(2, "spec", "core.PersistentVolumeClaimSpec"));
        yield return M("core.PersistentVolumeClaimSpec",
            Strs(1, "accessModes"), Msg(4, "selector", LabelSelector), Msg(2, "resources", "core.VolumeResourceRequirements"),
            Str(3, "volumeName"), Str(5, "storageClassName", Ptr), Str(6, "volumeMode", Ptr), Msg(7, "dataSource", "core.TypedLocalObjectReference"),
            Msg(8, "dataSourceRef", "core.TypedObjectReference"), Str(9, "volumeAttributesClassName", Ptr));
        yield return M("core.VolumeResourceRequirements", QtyMap(1, "limits"), QtyMap(2, "requests"));
        yield return M("core.TypedLocalObjectReference", Str(1, "apiGroup", Ptr), Str(2, "kind"), Str(3, "name"));
        yield return M("core.TypedObjectReference", Str(1, "apiGroup", Ptr), Str(2, "kind"), Str(3, "name"), Str(4, "namespace", Ptr));
        yield return M("core.ImageVolumeSource", Str(1, "reference"), Str(2, "pullPolicy"));

        // ---- k8s.io/api/apps/v1 ----
        yield return M("apps.Deployment", Msg(1, "metadata", "meta.ObjectMeta"), Msg(2, "spec", "apps.DeploymentSpec"), Msg(3, "status", "apps.DeploymentStatus"));
        yield return M("apps.DeploymentSpec",
            I32(1, "replicas", Ptr), Msg(2, "selector", LabelSelector), Msg(3, "template", "core.PodTemplateSpec"),
            Msg(4, "strategy", "apps.DeploymentStrategy"), I32(5, "minReadySeconds"), I32(6, "revisionHistoryLimit", Ptr), Bool(7, "paused"),
            I32(9, "progressDeadlineSeconds", Ptr));
        yield return M("apps.DeploymentStrategy", Str(1, "type"), Msg(2, "rollingUpdate", "apps.RollingUpdateDeployment"));
        // *IntOrString: maxUnavailable: 0 is a real setting, so presence is kept.
        yield return M("apps.RollingUpdateDeployment", Msg(1, "maxUnavailable", IntOrString, Ptr), Msg(2, "maxSurge", IntOrString, Ptr));
        yield return M("apps.DeploymentStatus",
            I64(1, "observedGeneration"), I32(2, "replicas"), I32(3, "updatedReplicas"), I32(7, "readyReplicas"), I32(4, "availableReplicas"),
            I32(5, "unavailableReplicas"), I32(9, "terminatingReplicas", Ptr), Msgs(6, "conditions", "apps.DeploymentCondition"),
            I32(8, "collisionCount", Ptr));
        yield return M("apps.DeploymentCondition",
            Str(1, "type"), Str(2, "status"), Msg(6, "lastUpdateTime", Time), Msg(7, "lastTransitionTime", Time), Str(4, "reason"), Str(5, "message"));
    }

    private static ProtoMessage M(string name, params ProtoField[] fields) => new(name, ProtoRendering.Object, fields);

    private static ProtoMessage Special(string name, ProtoRendering rendering, params ProtoField[] fields) => new(name, rendering, fields);

    private static ProtoField Str(int n, string json, bool presence = false) => new(n, json, ProtoKind.String, Presence: presence);

    private static ProtoField Strs(int n, string json) => new(n, json, ProtoKind.String, ProtoShape.Repeated);

    private static ProtoField StrMap(int n, string json) => new(n, json, ProtoKind.String, ProtoShape.Map);

    private static ProtoField Bytes(int n, string json) => new(n, json, ProtoKind.Bytes);

    private static ProtoField BytesMap(int n, string json) => new(n, json, ProtoKind.Bytes, ProtoShape.Map);

    private static ProtoField QtyMap(int n, string json) => new(n, json, ProtoKind.Message, ProtoShape.Map, Quantity);

    private static ProtoField Bool(int n, string json, bool presence = false) => new(n, json, ProtoKind.Bool, Presence: presence);

    private static ProtoField I32(int n, string json, bool presence = false) => new(n, json, ProtoKind.Int32, Presence: presence);

    private static ProtoField I64(int n, string json, bool presence = false) => new(n, json, ProtoKind.Int64, Presence: presence);

    private static ProtoField I64s(int n, string json) => new(n, json, ProtoKind.Int64, ProtoShape.Repeated);

    private static ProtoField Msg(int n, string json, string type, bool presence = false) =>
        new(n, json, ProtoKind.Message, MessageType: type, Presence: presence);

    private static ProtoField Msgs(int n, string json, string type) => new(n, json, ProtoKind.Message, ProtoShape.Repeated, type);

    /// <summary>A Go embedded struct: its fields land in the parent's JSON object; the name only labels error paths.</summary>
    private static ProtoField Embedded(int n, string name, string type) => new(n, name, ProtoKind.Message, MessageType: type, Inline: true);
}
