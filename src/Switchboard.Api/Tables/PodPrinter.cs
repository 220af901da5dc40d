using System.Globalization;
using System.Text.Json;
using static Switchboard.Api.Tables.Cells;

namespace Switchboard.Api.Tables;

/// <summary>
/// Pods as upstream's printPod reports them: READY counts ready containers (restartable init containers,
/// i.e. sidecars, included), STATUS walks init containers then containers for the most telling reason
/// (Init:N/M, Init:CrashLoopBackOff, CrashLoopBackOff, Completed, ExitCode:N, Terminating, ...), RESTARTS
/// adds "(5m ago)" for the latest restart.
/// </summary>
internal sealed class PodPrinter() : TablePrinter(
    TableColumn.NameColumn,
    TableColumn.String("Ready", "The aggregate readiness state of this pod for accepting traffic."),
    TableColumn.String("Status", "The aggregate status of the containers in this pod."),
    TableColumn.String("Restarts", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
    TableColumn.AgeColumn,
    TableColumn.String("IP", ColumnDescriptions.PodIP, 1),
    TableColumn.String("Node", ColumnDescriptions.PodNodeName, 1),
    TableColumn.String("Nominated Node", ColumnDescriptions.PodNominatedNodeName, 1),
    TableColumn.String("Readiness Gates", ColumnDescriptions.PodReadinessGates, 1)), ITableRowConditions
{
    public void WriteConditions(Utf8JsonWriter writer, JsonElement obj)
    {
        var phase = Get(obj, "status"u8, "phase"u8);
        var (reason, message) = Is(phase, "Succeeded"u8) ? ("Succeeded", "The pod has completed successfully.")
            : Is(phase, "Failed"u8) ? ("Failed", "The pod failed.")
            : (null, null);
        if (reason is null)
        {
            return;
        }
        writer.WriteStartArray("conditions"u8);
        writer.WriteStartObject();
        writer.WriteString("type"u8, "Completed"u8);
        writer.WriteString("status"u8, "True"u8);
        writer.WriteString("reason"u8, reason);
        writer.WriteString("message"u8, message);
        writer.WriteEndObject();
        writer.WriteEndArray();
    }

    public override void WriteCells(Utf8JsonWriter writer, JsonElement obj, DateTimeOffset now)
    {
        var spec = Get(obj, "spec"u8);
        var status = Get(obj, "status"u8);
        long restarts = 0;
        long restartableInitRestarts = 0;
        var totalContainers = Count(Get(spec, "containers"u8));
        var readyContainers = 0;
        DateTimeOffset? lastRestart = null;
        DateTimeOffset? lastRestartableInitRestart = null;

        var phase = Get(status, "phase"u8);
        var reason = new Reason(phase);
        if (HasText(Get(status, "reason"u8)))
        {
            reason = new Reason(Get(status, "reason"u8));
        }
        foreach (var condition in NodePrinter.Items(Get(status, "conditions"u8)))
        {
            if (Is(Get(condition, "type"u8), "PodScheduled"u8) && Is(Get(condition, "reason"u8), "SchedulingGated"u8))
            {
                reason = new Reason("SchedulingGated");
            }
        }

        var initContainers = Get(spec, "initContainers"u8);
        foreach (var c in NodePrinter.Items(initContainers))
        {
            if (Is(Get(c, "restartPolicy"u8), "Always"u8))
            {
                totalContainers++;
            }
        }

        var initializing = false;
        var index = -1;
        foreach (var container in NodePrinter.Items(Get(status, "initContainerStatuses"u8)))
        {
            index++;
            var restartCount = Int(Get(container, "restartCount"u8));
            restarts += restartCount;
            var finished = Get(container, "lastState"u8, "terminated"u8, "finishedAt"u8);
            Later(ref lastRestart, finished);
            var restartable = IsRestartableInit(initContainers, Get(container, "name"u8));
            if (restartable)
            {
                restartableInitRestarts += restartCount;
                Later(ref lastRestartableInitRestart, finished);
            }
            var state = Get(container, "state"u8);
            var terminated = Get(state, "terminated"u8);
            var waiting = Get(state, "waiting"u8);
            if (terminated.ValueKind == JsonValueKind.Object && Int(Get(terminated, "exitCode"u8)) == 0)
            {
                continue;
            }
            if (restartable && IsTrue(Get(container, "started"u8)))
            {
                if (IsTrue(Get(container, "ready"u8)))
                {
                    readyContainers++;
                }
                continue;
            }
            if (terminated.ValueKind == JsonValueKind.Object)
            {
                // Initialization failed.
                reason = new Reason(HasText(Get(terminated, "reason"u8))
                    ? "Init:" + Text(Get(terminated, "reason"u8))
                    : Int(Get(terminated, "signal"u8)) != 0
                        ? "Init:Signal:" + Int(Get(terminated, "signal"u8)).ToString(CultureInfo.InvariantCulture)
                        : "Init:ExitCode:" + Int(Get(terminated, "exitCode"u8)).ToString(CultureInfo.InvariantCulture));
            }
            else if (waiting.ValueKind == JsonValueKind.Object && HasText(Get(waiting, "reason"u8)) && !Is(Get(waiting, "reason"u8), "PodInitializing"u8))
            {
                reason = new Reason("Init:" + Text(Get(waiting, "reason"u8)));
            }
            else
            {
                reason = new Reason("Init:" + index.ToString(CultureInfo.InvariantCulture) + "/" + Count(initContainers).ToString(CultureInfo.InvariantCulture));
            }
            initializing = true;
            break;
        }

        if (!initializing || IsInitialized(status))
        {
            restarts = restartableInitRestarts;
            lastRestart = lastRestartableInitRestart;
            var hasRunning = false;
            var statuses = Get(status, "containerStatuses"u8);
            for (var i = Count(statuses) - 1; i >= 0; i--)
            {
                var container = statuses[i];
                restarts += Int(Get(container, "restartCount"u8));
                Later(ref lastRestart, Get(container, "lastState"u8, "terminated"u8, "finishedAt"u8));
                var state = Get(container, "state"u8);
                var waiting = Get(state, "waiting"u8);
                var terminated = Get(state, "terminated"u8);
                if (waiting.ValueKind == JsonValueKind.Object && HasText(Get(waiting, "reason"u8)))
                {
                    reason = new Reason(Get(waiting, "reason"u8));
                }
                else if (terminated.ValueKind == JsonValueKind.Object && HasText(Get(terminated, "reason"u8)))
                {
                    reason = new Reason(Get(terminated, "reason"u8));
                }
                else if (terminated.ValueKind == JsonValueKind.Object)
                {
                    var signal = Int(Get(terminated, "signal"u8));
                    reason = new Reason(signal != 0
                        ? "Signal:" + signal.ToString(CultureInfo.InvariantCulture)
                        : "ExitCode:" + Int(Get(terminated, "exitCode"u8)).ToString(CultureInfo.InvariantCulture));
                }
                else if (IsTrue(Get(container, "ready"u8)) && Get(state, "running"u8).ValueKind == JsonValueKind.Object)
                {
                    hasRunning = true;
                    readyContainers++;
                }
            }

            // Back to "Running" while at least one container still runs.
            if (reason.Is("Completed") && hasRunning)
            {
                reason = new Reason(HasCondition(status, "Ready"u8) ? "Running" : "NotReady");
            }
        }

        if (Get(obj, "metadata"u8, "deletionTimestamp"u8).ValueKind == JsonValueKind.String)
        {
            if (Is(Get(status, "reason"u8), "NodeLost"u8))
            {
                reason = new Reason("Unknown");
            }
            else if (!Is(phase, "Failed"u8) && !Is(phase, "Succeeded"u8))
            {
                reason = new Reason("Terminating");
            }
        }

        WriteName(writer, obj);
        Span<byte> initial = stackalloc byte[64];
        var ready = new CellBuilder(initial);
        ready.Append(readyContainers);
        ready.Append((byte)'/');
        ready.Append(totalContainers);
        ready.WriteTo(writer);
        ready.Dispose();

        reason.WriteTo(writer);

        var restartsCell = new CellBuilder(initial);
        restartsCell.Append(restarts);
        if (restarts != 0 && lastRestart is { } last)
        {
            Span<char> ago = stackalloc char[32];
            var n = HumanDuration.Format(now - last, ago);
            restartsCell.Append(" ("u8);
            restartsCell.Append(ago[..n]);
            restartsCell.Append(" ago)"u8);
        }
        restartsCell.WriteTo(writer);
        restartsCell.Dispose();

        WriteAge(writer, obj, now);

        var podIPs = Get(status, "podIPs"u8);
        WriteText(writer, Count(podIPs) > 0 && podIPs.ValueKind == JsonValueKind.Array ? Get(podIPs[0], "ip"u8) : Get(status, "podIP"u8), None);
        WriteText(writer, Get(spec, "nodeName"u8), None);
        WriteText(writer, Get(status, "nominatedNodeName"u8), None);

        var gates = Get(spec, "readinessGates"u8);
        var gateCount = gates.ValueKind == JsonValueKind.Array ? gates.GetArrayLength() : 0;
        if (gateCount == 0)
        {
            writer.WriteStringValue(None);
        }
        else
        {
            var trueConditions = 0;
            foreach (var gate in gates.EnumerateArray())
            {
                var type = Get(gate, "conditionType"u8);
                foreach (var condition in NodePrinter.Items(Get(status, "conditions"u8)))
                {
                    if (IsString(type) && Is(Get(condition, "type"u8), JsonRaw(type)))
                    {
                        if (Is(Get(condition, "status"u8), "True"u8))
                        {
                            trueConditions++;
                        }
                        break;
                    }
                }
            }
            var cell = new CellBuilder(initial);
            cell.Append(trueConditions);
            cell.Append((byte)'/');
            cell.Append(gateCount);
            cell.WriteTo(writer);
            cell.Dispose();
        }
    }

    private static ReadOnlySpan<byte> JsonRaw(JsonElement s) => System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(s)[1..^1];

    private static bool IsRestartableInit(JsonElement initContainers, JsonElement name)
    {
        if (!IsString(name))
        {
            return false;
        }
        foreach (var c in NodePrinter.Items(initContainers))
        {
            if (Get(c, "name"u8).ValueKind == JsonValueKind.String && Get(c, "name"u8).ValueEquals(JsonRaw(name)))
            {
                return Is(Get(c, "restartPolicy"u8), "Always"u8);
            }
        }
        return false;
    }

    // isPodInitializedConditionTrue: the first Initialized condition decides.
    private static bool IsInitialized(JsonElement status)
    {
        foreach (var condition in NodePrinter.Items(Get(status, "conditions"u8)))
        {
            if (Is(Get(condition, "type"u8), "Initialized"u8))
            {
                return Is(Get(condition, "status"u8), "True"u8);
            }
        }
        return false;
    }

    private static bool HasCondition(JsonElement status, ReadOnlySpan<byte> type)
    {
        foreach (var condition in NodePrinter.Items(Get(status, "conditions"u8)))
        {
            if (Is(Get(condition, "type"u8), type) && Is(Get(condition, "status"u8), "True"u8))
            {
                return true;
            }
        }
        return false;
    }

    private static void Later(ref DateTimeOffset? latest, JsonElement time)
    {
        if (TryParseTime(time, out var t) && (latest is null || latest.Value < t))
        {
            latest = t;
        }
    }

    /// <summary>The STATUS cell: a string from the object (written without copying) or a composed one.</summary>
    private readonly struct Reason
    {
        private readonly JsonElement _element;
        private readonly string? _text;

        public Reason(JsonElement element)
        {
            _element = element;
            _text = null;
        }

        public Reason(string text)
        {
            _element = default;
            _text = text;
        }

        public bool Is(string value) => _text is not null
            ? string.Equals(_text, value, StringComparison.Ordinal)
            : _element.ValueKind == JsonValueKind.String && _element.ValueEquals(value);

        public void WriteTo(Utf8JsonWriter writer)
        {
            if (_text is not null)
            {
                writer.WriteStringValue(_text);
            }
            else
            {
                WriteString(writer, _element);
            }
        }
    }
}
