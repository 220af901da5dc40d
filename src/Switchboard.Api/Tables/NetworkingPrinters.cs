using System.Text.Json;
using static Switchboard.Api.Tables.Cells;

namespace Switchboard.Api.Tables;

// networking.k8s.io, discovery.k8s.io and coordination.k8s.io printers (upstream printIngress,
// printIngressClass, printNetworkPolicy, printEndpointSlice, printLease).

internal sealed class IngressPrinter() : TablePrinter(
    TableColumn.NameColumn,
    TableColumn.String("Class", "The name of the IngressClass resource that should be used for additional configuration"),
    TableColumn.String("Hosts", "Hosts that incoming requests are matched against before the ingress rule"),
    TableColumn.String("Address", "Address is a list containing ingress points for the load-balancer"),
    TableColumn.String("Ports", "Ports of TLS configurations that open"),
    TableColumn.AgeColumn)
{
    private const int Max = 3;

    public override void WriteCells(Utf8JsonWriter writer, JsonElement obj, DateTimeOffset now)
    {
        var spec = Get(obj, "spec"u8);
        WriteName(writer, obj);
        WriteString(writer, Get(spec, "ingressClassName"u8), None);

        // formatHosts: the first three non-empty hosts; "+ N more..." counts rules, not hosts; "*" when none.
        var rules = Get(spec, "rules"u8);
        Span<byte> initial = stackalloc byte[128];
        var hosts = new CellBuilder(initial);
        var listed = 0;
        var more = false;
        foreach (var rule in NodePrinter.Items(rules))
        {
            if (listed == Max)
            {
                more = true;
            }
            var host = Get(rule, "host"u8);
            if (!more && HasText(host))
            {
                if (listed > 0)
                {
                    hosts.Append((byte)',');
                }
                hosts.Append(host);
                listed++;
            }
        }
        if (listed == 0)
        {
            writer.WriteStringValue("*");
        }
        else
        {
            if (more)
            {
                hosts.Append(" + "u8);
                hosts.Append(Count(rules) - Max);
                hosts.Append(" more..."u8);
            }
            hosts.WriteTo(writer);
        }
        hosts.Dispose();

        var address = new CellBuilder(initial);
        ServicePrinter.AppendIngressPoints(ref address, Get(obj, "status"u8, "loadBalancer"u8, "ingress"u8));
        address.WriteTo(writer);
        address.Dispose();

        writer.WriteStringValue(Count(Get(spec, "tls"u8)) != 0 ? "80, 443" : "80");
        WriteAge(writer, obj, now);
    }
}

internal sealed class IngressClassPrinter() : TablePrinter(
    TableColumn.NameColumn,
    TableColumn.String("Controller", "Controller that is responsible for handling this class"),
    TableColumn.String("Parameters", "A reference to a resource with additional parameters"),
    TableColumn.AgeColumn)
{
    public override void WriteCells(Utf8JsonWriter writer, JsonElement obj, DateTimeOffset now)
    {
        var spec = Get(obj, "spec"u8);
        WriteName(writer, obj);
        WriteString(writer, Get(spec, "controller"u8));
        var parameters = Get(spec, "parameters"u8);
        if (parameters.ValueKind != JsonValueKind.Object)
        {
            writer.WriteStringValue(None);
        }
        else
        {
            // Kind[.apiGroup]/name
            Span<byte> initial = stackalloc byte[128];
            var b = new CellBuilder(initial);
            b.Append(Get(parameters, "kind"u8));
            if (IsString(Get(parameters, "apiGroup"u8)))
            {
                b.Append((byte)'.');
                b.Append(Get(parameters, "apiGroup"u8));
            }
            b.Append((byte)'/');
            b.Append(Get(parameters, "name"u8));
            b.WriteTo(writer);
            b.Dispose();
        }
        WriteAge(writer, obj, now);
    }
}

internal sealed class NetworkPolicyPrinter() : TablePrinter(
    TableColumn.NameColumn,
    TableColumn.String("Pod-Selector", ColumnDescriptions.NetworkPolicyPodSelector),
    TableColumn.AgeColumn)
{
    public override void WriteCells(Utf8JsonWriter writer, JsonElement obj, DateTimeOffset now)
    {
        WriteName(writer, obj);
        Containers.WriteFormattedSelector(writer, Get(obj, "spec"u8, "podSelector"u8));
        WriteAge(writer, obj, now);
    }
}

internal sealed class LeasePrinter() : TablePrinter(
    TableColumn.NameColumn,
    TableColumn.String("Holder", ColumnDescriptions.LeaseHolderIdentity),
    TableColumn.AgeColumn)
{
    public override void WriteCells(Utf8JsonWriter writer, JsonElement obj, DateTimeOffset now)
    {
        WriteName(writer, obj);
        WriteString(writer, Get(obj, "spec"u8, "holderIdentity"u8));
        WriteAge(writer, obj, now);
    }
}

internal sealed class EndpointSlicePrinter() : TablePrinter(
    TableColumn.NameColumn,
    TableColumn.String("AddressType", ColumnDescriptions.EndpointSliceAddressType),
    TableColumn.String("Ports", ColumnDescriptions.EndpointSlicePorts),
    TableColumn.String("Endpoints", ColumnDescriptions.EndpointSliceEndpoints),
    TableColumn.AgeColumn)
{
    private const int Max = 3;

    public override void WriteCells(Utf8JsonWriter writer, JsonElement obj, DateTimeOffset now)
    {
        WriteName(writer, obj);
        WriteString(writer, Get(obj, "addressType"u8));

        // formatDiscoveryPorts: port number, else its name, else "*".
        Span<byte> initial = stackalloc byte[128];
        var ports = new CellBuilder(initial);
        var listed = 0;
        var count = 0;
        foreach (var port in NodePrinter.Items(Get(obj, "ports"u8)))
        {
            if (listed < Max)
            {
                if (listed > 0)
                {
                    ports.Append((byte)',');
                }
                var number = Get(port, "port"u8);
                var name = Get(port, "name"u8);
                if (number.ValueKind == JsonValueKind.Number)
                {
                    ports.Append(Int(number));
                }
                else if (IsString(name))
                {
                    ports.Append(name);
                }
                else
                {
                    ports.Append((byte)'*');
                }
                listed++;
            }
            count++;
        }
        WriteListWithMore(writer, ref ports, listed, count);

        // formatDiscoveryEndpoints: every address of every endpoint.
        var endpoints = new CellBuilder(initial);
        listed = 0;
        count = 0;
        foreach (var endpoint in NodePrinter.Items(Get(obj, "endpoints"u8)))
        {
            foreach (var address in NodePrinter.Items(Get(endpoint, "addresses"u8)))
            {
                if (listed < Max)
                {
                    if (listed > 0)
                    {
                        endpoints.Append((byte)',');
                    }
                    endpoints.Append(address);
                    listed++;
                }
                count++;
            }
        }
        WriteListWithMore(writer, ref endpoints, listed, count);
        WriteAge(writer, obj, now);
    }

    // listWithMoreString: "a,b,c + N more...", or "<unset>" for nothing.
    private static void WriteListWithMore(Utf8JsonWriter writer, ref CellBuilder b, int listed, int count)
    {
        if (count > Max)
        {
            b.Append(" + "u8);
            b.Append(count - Max);
            b.Append(" more..."u8);
        }
        if (listed == 0)
        {
            writer.WriteStringValue("<unset>");
        }
        else
        {
            b.WriteTo(writer);
        }
        b.Dispose();
    }
}

/// <summary>ServiceCIDR: NAME CIDRS AGE (upstream printServiceCIDR).</summary>
internal sealed class ServiceCidrPrinter() : TablePrinter(
    TableColumn.NameColumn,
    TableColumn.String("CIDRs", "CIDRs defines the IP blocks in CIDR notation (e.g. \"192.168.0.0/24\" or \"2001:db8::/64\") from which to assign service cluster IPs."),
    TableColumn.AgeColumn)
{
    public override void WriteCells(Utf8JsonWriter writer, JsonElement obj, DateTimeOffset now)
    {
        WriteName(writer, obj);
        var cidrs = Get(obj, "spec"u8, "cidrs"u8);
        writer.WriteStringValue(cidrs.ValueKind == JsonValueKind.Array ? string.Join(",", cidrs.EnumerateArray().Select(Text)) : "");
        WriteAge(writer, obj, now);
    }
}

/// <summary>IPAddress: NAME PARENTREF AGE, the parent as resource[.group][/namespace]/name (upstream printIPAddress).</summary>
internal sealed class IpAddressPrinter() : TablePrinter(
    TableColumn.NameColumn,
    TableColumn.String("ParentRef", "ParentRef references the resource that an IPAddress is attached to."),
    TableColumn.AgeColumn)
{
    public override void WriteCells(Utf8JsonWriter writer, JsonElement obj, DateTimeOffset now)
    {
        WriteName(writer, obj);
        var parent = Get(obj, "spec"u8, "parentRef"u8);
        if (parent.ValueKind != JsonValueKind.Object)
        {
            writer.WriteStringValue(None);
        }
        else
        {
            var group = Text(Get(parent, "group"u8));
            var text = (Text(Get(parent, "resource"u8)) + (group.Length > 0 ? "." + group : "")).ToLowerInvariant();
            var ns = Text(Get(parent, "namespace"u8));
            writer.WriteStringValue(text + (ns.Length > 0 ? "/" + ns : "") + "/" + Text(Get(parent, "name"u8)));
        }
        WriteAge(writer, obj, now);
    }
}
