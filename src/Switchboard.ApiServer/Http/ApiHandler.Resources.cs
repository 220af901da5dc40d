using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Http;
using Switchboard.Api.Resources;
using Switchboard.Api.Serialization;
using Switchboard.ApiServer.Registry;
using Switchboard.Store;

namespace Switchboard.ApiServer.Http;

internal sealed partial class ApiHandler
{
    /// <summary>Serves one resource request; returns the upstream metric verb.</summary>
    private async Task<string> HandleResourceAsync(HttpContext ctx, RequestInfo ri)
    {
        var res = _registry.Catalog.Find(ri.Group, ri.Version, ri.Resource) ?? throw ApiException.NotFoundPath();
        if (!res.Namespaced && ri.Namespace is not null)
        {
            throw ApiException.NotFoundPath();
        }
        if (ri.Subresource is not null && !res.Subresources.Contains(ri.Subresource))
        {
            throw ApiException.NotFoundPath();
        }
        var storage = _registry.Get(res);
        if (ri.Subresource is not null && ri.Name is not null && PodProxy is not null && res.Group.Length == 0 && res.Plural == "pods" &&
            Proxy.PodStreamProxy.Subresources.Contains(ri.Subresource))
        {
            return await PodProxy.HandleAsync(ctx, storage, ri).ConfigureAwait(false);
        }
        var q = new RequestQuery(ctx.Request.Query);
        var method = ctx.Request.Method;
        var ct = ctx.RequestAborted;

        if (HttpMethods.IsGet(method))
        {
            if (ri.Name is null)
            {
                if (q.Watch)
                {
                    await _watch.ServeAsync(ctx, storage, ri.Namespace, q).ConfigureAwait(false);
                    return "WATCH";
                }
                await ListAsync(ctx, storage, ri.Namespace, q).ConfigureAwait(false);
                return "LIST";
            }
            if (ri.Subresource is "scale")
            {
                var liveScale = await storage.GetAsync(ri.Namespace, ri.Name, ct).ConfigureAwait(false);
                await WriteJsonAsync(ctx, 200, ScaleOf(storage, liveScale.Value)).ConfigureAwait(false);
                return "GET";
            }
            if (ri.Subresource is not (null or "status"))
            {
                throw ApiException.MethodNotAllowed();
            }
            var live = await storage.GetAsync(ri.Namespace, ri.Name, ct).ConfigureAwait(false);
            await WriteObjectAsync(ctx, 200, storage, live.Value).ConfigureAwait(false);
            return "GET";
        }

        if (HttpMethods.IsPost(method))
        {
            if (ri.Name is not null)
            {
                if (ri.Subresource == "token")
                {
                    await CreateTokenAsync(ctx, storage, ri.Namespace!, ri.Name, q).ConfigureAwait(false);
                    return "POST";
                }
                if (ri.Subresource == "binding")
                {
                    await BindPodAsync(ctx, storage, ri.Namespace!, ri.Name, q).ConfigureAwait(false);
                    return "POST";
                }
                throw ApiException.MethodNotAllowed();
            }
            if (res.Namespaced && ri.Namespace is null)
            {
                throw ApiException.MethodNotAllowed();
            }
            var warnings = new List<string>();
            var obj = await ReadObjectAsync(ctx, storage, q, warnings).ConfigureAwait(false);
            // server-side apply: the field manager defaults from the User-Agent (ApiHandler.Patch.cs)
            var created = await storage.CreateAsync(ri.Namespace, obj, new WriteOptions(q.DryRun, FieldManagerOf(ctx, q)), ct).ConfigureAwait(false);
            AddWarnings(ctx, warnings);
            await WriteObjectAsync(ctx, 201, storage, created.Bytes).ConfigureAwait(false);
            return "POST";
        }

        if (HttpMethods.IsPut(method))
        {
            if (ri.Name is null)
            {
                throw ApiException.MethodNotAllowed();
            }
            var warnings = new List<string>();
            var target = ri.Subresource switch
            {
                "status" => UpdateTarget.Status,
                "finalize" => UpdateTarget.Finalize,
                "scale" => UpdateTarget.Main,
                "token" or "binding" => throw ApiException.MethodNotAllowed(),
                _ => UpdateTarget.Main,
            };
            WriteOutcome updated;
            if (ri.Subresource == "scale")
            {
                var body = await ReadBodyJsonAsync(ctx).ConfigureAwait(false);
                var replicas = ReadScaleReplicas(body);
                // server-side apply: recorded as an Update through the scale subresource (ApiHandler.Patch.cs)
                updated = await storage.UpdateAsync(ri.Namespace, ri.Name, UpdateTarget.Main, (live, _) => SetReplicas(live, replicas), new WriteOptions(q.DryRun, FieldManagerOf(ctx, q), "scale"), ct).ConfigureAwait(false);
                await WriteJsonAsync(ctx, 200, ScaleOf(storage, updated.Bytes)).ConfigureAwait(false);
                return "PUT";
            }
            var obj = await ReadObjectAsync(ctx, storage, q, warnings).ConfigureAwait(false);
            if (string.IsNullOrEmpty(obj.Metadata?.Name))
            {
                obj.Metadata ??= new V1ObjectMeta();
                obj.Metadata.Name = ri.Name;
            }
            // server-side apply: the field manager defaults from the User-Agent (ApiHandler.Patch.cs)
            updated = await storage.UpdateAsync(ri.Namespace, ri.Name, target, (_, _) => obj, new WriteOptions(q.DryRun, FieldManagerOf(ctx, q)), ct).ConfigureAwait(false);
            AddWarnings(ctx, warnings);
            await WriteObjectAsync(ctx, 200, storage, updated.Bytes).ConfigureAwait(false);
            return "PUT";
        }

        if (HttpMethods.IsPatch(method))
        {
            if (ri.Name is null || ri.Subresource is "token" or "finalize" or "binding")
            {
                throw ApiException.MethodNotAllowed();
            }
            return await PatchAsync(ctx, storage, ri, q).ConfigureAwait(false);
        }

        if (HttpMethods.IsDelete(method))
        {
            if (ri.Subresource is not null)
            {
                throw ApiException.MethodNotAllowed();
            }
            var options = await ReadDeleteOptionsAsync(ctx, q).ConfigureAwait(false);
            if (ri.Name is null)
            {
                await DeleteCollectionAsync(ctx, storage, ri.Namespace, q, options).ConfigureAwait(false);
                return "DELETECOLLECTION";
            }
            var (outcome, _) = await storage.DeleteAsync(ri.Namespace, ri.Name, options, new WriteOptions(q.DryRun, null), ct).ConfigureAwait(false);
            await WriteObjectAsync(ctx, 200, storage, outcome.Bytes).ConfigureAwait(false);
            return "DELETE";
        }

        throw ApiException.MethodNotAllowed();
    }

    // ---- list ----

    private async Task ListAsync(HttpContext ctx, ResourceStorage storage, string? ns, RequestQuery q)
    {
        var page = await ListPageAsync(storage, ns, q, ctx.RequestAborted).ConfigureAwait(false);
        var format = MediaTypes.Negotiate(ctx.Request.Headers.Accept.ToString(), tableAllowed: true);
        if (format == ResponseFormat.Table)
        {
            var table = Tables.TableResponses.List(storage.Info, page.Items, page.ResourceVersion, page.Continue, page.Remaining, _time.GetUtcNow(), IncludeObject(ctx));
            await WriteJsonAsync(ctx, 200, table).ConfigureAwait(false);
            return;
        }
        var buffer = new ArrayBufferWriter<byte>(4096 + page.Items.Sum(i => i.Length));
        WriteListEnvelope(buffer, storage.Info, page.ResourceVersion, page.Continue, page.Remaining, page.Items);
        await WriteFormattedAsync(ctx, 200, buffer.WrittenMemory, format).ConfigureAwait(false);
    }

    internal sealed record ListPage(List<ReadOnlyMemory<byte>> Items, string ResourceVersion, string? Continue, long? Remaining);

    internal static async Task<ListPage> ListPageAsync(ResourceStorage storage, string? ns, RequestQuery q, CancellationToken ct)
    {
        var filter = ObjectFilter.Create(storage.Info, q.LabelSelector, q.FieldSelector);
        long revision = 0;
        string? startAfter = null;
        if (q.Continue is { } token)
        {
            (revision, startAfter) = ContinueToken.Decode(token);
        }
        else if (q.ResourceVersion is { } rvText && rvText != "0" && q.ResourceVersionMatch == "Exact")
        {
            revision = ParseRv(rvText);
        }
        else if (q.ResourceVersionMatch is { } match && match is not ("NotOlderThan" or "Exact"))
        {
            throw ApiException.BadRequest($"resourceVersionMatch: Unsupported value: \"{match}\": supported values: \"Exact\", \"NotOlderThan\"");
        }

        var prefix = storage.Info.ListPrefix(ns);
        var items = new List<ReadOnlyMemory<byte>>();
        var limit = q.Limit;
        string? lastKey = startAfter;
        bool more;
        long remaining;
        try
        {
            while (true)
            {
                var want = limit == 0 ? 0 : Math.Max(limit - items.Count, filter.IsEmpty ? limit - items.Count : 256);
                var page = await storage.Store.ListAsync(prefix, revision, lastKey, want, ct).ConfigureAwait(false);
                revision = page.Revision;
                more = page.More;
                remaining = page.RemainingCount;
                var stoppedEarly = false;
                for (var i = 0; i < page.Items.Count; i++)
                {
                    var item = page.Items[i];
                    if (filter.Matches(item.Value))
                    {
                        items.Add(item.Value);
                    }
                    lastKey = item.Key;
                    if (limit > 0 && items.Count >= limit)
                    {
                        stoppedEarly = i < page.Items.Count - 1;
                        remaining += page.Items.Count - 1 - i;
                        more = more || stoppedEarly;
                        break;
                    }
                }
                if (!more || (limit > 0 && items.Count >= limit))
                {
                    break;
                }
            }
        }
        catch (StoreFutureRevisionException e)
        {
            // Upstream waits briefly for the cache to catch up, then answers 504 with this text.
            throw new ApiException(504, "Timeout", $"Too large resource version: {e.Requested}, current: {e.Current}")
            {
                RetryAfterSeconds = 1,
                Causes = [("ResourceVersionTooLarge", "Too large resource version", null)],
            };
        }
        catch (StoreExpiredException)
        {
            throw ApiException.Expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.");
        }

        var rv = revision.ToString(CultureInfo.InvariantCulture);
        if (limit > 0 && more && lastKey is not null)
        {
            // remainingItemCount is only exact without selectors (upstream omits it when filtering).
            return new ListPage(items, rv, ContinueToken.Encode(revision, lastKey), filter.IsEmpty ? remaining : null);
        }
        return new ListPage(items, rv, null, null);
    }

    private static long ParseRv(string rv) =>
        long.TryParse(rv, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 0
            ? n
            : throw ApiException.BadRequest($"resourceVersion: Invalid value: \"{rv}\": must be a non-negative integer");

    internal static void WriteListEnvelope(IBufferWriter<byte> buffer, ResourceInfo info, string rv, string? cont, long? remaining, IReadOnlyList<ReadOnlyMemory<byte>> items)
    {
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("kind", info.ListKind);
            w.WriteString("apiVersion", info.GroupVersion);
            w.WriteStartObject("metadata");
            w.WriteString("resourceVersion", rv);
            if (cont is not null)
            {
                w.WriteString("continue", cont);
            }
            if (remaining is long r && r > 0)
            {
                w.WriteNumber("remainingItemCount", r);
            }
            w.WriteEndObject();
            w.WritePropertyName("items");
            w.WriteStartArray();
            foreach (var item in items)
            {
                w.WriteRawValue(item.Span, skipInputValidation: true);
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
    }

    private static string IncludeObject(HttpContext ctx) => ctx.Request.Query["includeObject"].ToString() switch
    {
        "" => "Metadata",
        var v => v,
    };

    // ---- bodies ----

    private async Task<byte[]> ReadBodyJsonAsync(HttpContext ctx)
    {
        var type = MediaTypes.BareType(ctx.Request.ContentType);
        var body = await ReadBodyAsync(ctx).ConfigureAwait(false);
        return type switch
        {
            MediaTypes.Json or "" => body,
            MediaTypes.Yaml or "application/x-yaml" or "text/yaml" => YamlToJson(body),
            _ => throw ApiException.UnsupportedMediaType(type),
        };
    }

    private static byte[] YamlToJson(byte[] body)
    {
        try
        {
            return YamlJson.YamlToJson(body);
        }
        catch (YamlJsonException e)
        {
            throw ApiException.BadRequest("error converting YAML to JSON: " + e.Message);
        }
    }

    private async Task<byte[]> ReadBodyAsync(HttpContext ctx)
    {
        using var ms = new MemoryStream();
        var buffer = ArrayPool<byte>.Shared.Rent(16384);
        var tooLarge = ctx.Request.ContentLength > _options.MaxRequestBodyBytes;
        try
        {
            int n;
            while ((n = await ctx.Request.Body.ReadAsync(buffer, ctx.RequestAborted).ConfigureAwait(false)) > 0)
            {
                if (tooLarge || ms.Length + n > _options.MaxRequestBodyBytes)
                {
                    // Keep reading (and discarding) so the client finishes sending and reads our 413, instead of
                    // a reset connection; Kestrel's own, larger limit bounds how much we swallow.
                    tooLarge = true;
                    continue;
                }
                ms.Write(buffer, 0, n);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        if (tooLarge)
        {
            throw ApiException.TooLarge();
        }
        return ms.ToArray();
    }

    /// <summary>Reads a whole object from the body (JSON or YAML), checking kind, version and fields.</summary>
    private async Task<IKubernetesObject<V1ObjectMeta>> ReadObjectAsync(HttpContext ctx, ResourceStorage storage, RequestQuery q, List<string> warnings)
    {
        var type = MediaTypes.BareType(ctx.Request.ContentType);
        if (type == MediaTypes.Protobuf)
        {
            var raw = await ReadBodyAsync(ctx).ConfigureAwait(false);
            return DecodeObject(storage, Protobuf.ProtobufDecoder.Decode(storage.Info, raw), q, warnings);
        }
        var json = await ReadBodyJsonAsync(ctx).ConfigureAwait(false);
        return DecodeObject(storage, json, q, warnings);
    }

    internal IKubernetesObject<V1ObjectMeta> DecodeObject(ResourceStorage storage, byte[] json, RequestQuery q, List<string> warnings)
    {
        var info = storage.Info;
        string? apiVersion = null;
        string? kind = null;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 128 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw ApiException.BadRequest($"{info.Kind} in version \"{info.Version}\" cannot be handled as a {info.Kind}: the body must be a JSON object");
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString();
                reader.Read();
                if (name == "apiVersion" && reader.TokenType == JsonTokenType.String)
                {
                    apiVersion = reader.GetString();
                }
                else if (name == "kind" && reader.TokenType == JsonTokenType.String)
                {
                    kind = reader.GetString();
                }
                else
                {
                    reader.Skip();
                }
            }
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"{info.Kind} in version \"{info.Version}\" cannot be handled as a {info.Kind}: {e.Message}");
        }
        if (!string.IsNullOrEmpty(apiVersion) && apiVersion != info.GroupVersion)
        {
            throw ApiException.BadRequest($"the API version in the data ({apiVersion}) does not match the expected API version ({info.GroupVersion})");
        }
        if (!string.IsNullOrEmpty(kind) && kind != info.Kind)
        {
            throw ApiException.BadRequest($"the kind in the data ({kind}) does not match the expected kind ({info.Kind})");
        }

        if (q.FieldValidation != "Ignore")
        {
            var problems = _fieldValidator.Validate(json, info);
            if (problems.Count > 0)
            {
                if (q.FieldValidation == "Strict")
                {
                    var text = problems.Count == 1 ? problems[0] : "[" + string.Join(", ", problems) + "]";
                    throw ApiException.BadRequest($"{info.Kind} in version \"{info.Version}\" cannot be handled as a {info.Kind}: strict decoding error: {text}");
                }
                warnings.AddRange(problems);
            }
        }

        try
        {
            var obj = storage.Decode(json);
            obj.Metadata ??= new V1ObjectMeta();
            return obj;
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"{info.Kind} in version \"{info.Version}\" cannot be handled as a {info.Kind}: {DescribeJsonError(e)}");
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or NotSupportedException or ArgumentException)
        {
            throw ApiException.BadRequest($"{info.Kind} in version \"{info.Version}\" cannot be handled as a {info.Kind}: {e.Message}");
        }
    }

    private static string DescribeJsonError(JsonException e)
    {
        var path = e.Path is { Length: > 2 } p ? p[2..] : e.Path ?? "";
        var message = e.Message;
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut > 0)
        {
            message = message[..cut];
        }
        return string.IsNullOrEmpty(path) ? message : $"{message} (field {path})";
    }

    private static void AddWarnings(HttpContext ctx, List<string> warnings)
    {
        foreach (var w in warnings)
        {
            ctx.Response.Headers.Append("Warning", "299 - \"" + w.Replace("\"", "\\\"", StringComparison.Ordinal) + "\"");
        }
    }

    private async Task<V1DeleteOptions?> ReadDeleteOptionsAsync(HttpContext ctx, RequestQuery q)
    {
        V1DeleteOptions? options = null;
        if (ctx.Request.ContentLength is > 0 || ctx.Request.Headers.TransferEncoding.Count > 0)
        {
            var json = await ReadBodyJsonAsync(ctx).ConfigureAwait(false);
            if (json.Length > 0)
            {
                try
                {
                    options = KubeJson.Deserialize<V1DeleteOptions>(json);
                }
                catch (JsonException e)
                {
                    throw ApiException.BadRequest("invalid DeleteOptions: " + DescribeJsonError(e));
                }
            }
        }
        options ??= new V1DeleteOptions();
        options.GracePeriodSeconds ??= q.GracePeriodSeconds;
        options.PropagationPolicy ??= q.PropagationPolicy;
        // The deprecated orphanDependents maps onto the propagation policies, as upstream.
        options.OrphanDependents ??= q.OrphanDependents;
        if (options.OrphanDependents is bool orphan)
        {
            if (options.PropagationPolicy is not null)
            {
                var message = $"Invalid value: \"{options.PropagationPolicy}\": orphanDependents and deletionPropagation cannot be both set";
                throw new ApiException(422, "Invalid", "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: " + message)
                {
                    DetailKind = "DeleteOptions",
                    DetailGroup = "meta.k8s.io",
                    Causes = [("FieldValueInvalid", message, "propagationPolicy")],
                };
            }
            options.PropagationPolicy = orphan ? "Orphan" : "Background";
        }
        if (options.PropagationPolicy is { } p && p is not ("Orphan" or "Background" or "Foreground"))
        {
            throw new ApiException(422, "Invalid", $"DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\"")
            {
                DetailKind = "DeleteOptions",
                DetailGroup = "meta.k8s.io",
                Causes = [("FieldValueNotSupported", $"Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\"", "propagationPolicy")],
            };
        }
        if (options.GracePeriodSeconds is < 0)
        {
            options.GracePeriodSeconds = 0;
        }
        return options;
    }

    private static async Task DeleteCollectionAsync(HttpContext ctx, ResourceStorage storage, string? ns, RequestQuery q, V1DeleteOptions? options)
    {
        var page = await ListPageAsync(storage, ns, new RequestQuery(new QueryCollection(new Dictionary<string, Microsoft.Extensions.Primitives.StringValues>
        {
            ["labelSelector"] = q.LabelSelector ?? "",
            ["fieldSelector"] = q.FieldSelector ?? "",
        })), ctx.RequestAborted).ConfigureAwait(false);
        var deleted = new List<ReadOnlyMemory<byte>>();
        foreach (var item in page.Items)
        {
            var obj = storage.Decode(item.Span);
            try
            {
                var (outcome, _) = await storage.DeleteAsync(obj.Metadata.NamespaceProperty, obj.Metadata.Name, options, new WriteOptions(q.DryRun, null), ctx.RequestAborted).ConfigureAwait(false);
                deleted.Add(outcome.Bytes);
            }
            catch (ApiException e) when (e.Code == 404)
            {
                // Deleted by someone else meanwhile: that is what we wanted.
            }
        }
        var buffer = new ArrayBufferWriter<byte>();
        WriteListEnvelope(buffer, storage.Info, page.ResourceVersion, null, null, deleted);
        await WriteJsonAsync(ctx, 200, buffer.WrittenMemory).ConfigureAwait(false);
    }

    // ---- responses ----

    private async Task WriteObjectAsync(HttpContext ctx, int code, ResourceStorage storage, ReadOnlyMemory<byte> json)
    {
        var format = MediaTypes.Negotiate(ctx.Request.Headers.Accept.ToString(), tableAllowed: true);
        if (format == ResponseFormat.Table)
        {
            var table = Tables.TableResponses.List(storage.Info, [json], null, null, null, _time.GetUtcNow(), IncludeObject(ctx));
            await WriteJsonAsync(ctx, code, table).ConfigureAwait(false);
            return;
        }
        await WriteFormattedAsync(ctx, code, json, format).ConfigureAwait(false);
    }

    private static Task WriteFormattedAsync(HttpContext ctx, int code, ReadOnlyMemory<byte> json, ResponseFormat format) =>
        format == ResponseFormat.Yaml
            ? WriteBytesAsync(ctx, code, MediaTypes.Yaml, YamlJson.JsonToYaml(json.Span))
            : WriteJsonAsync(ctx, code, json);

    // ---- scale ----

    private static byte[] ScaleOf(ResourceStorage storage, ReadOnlyMemory<byte> json)
    {
        var node = JsonNode.Parse(json.Span)!.AsObject();
        var meta = node["metadata"]!.AsObject();
        var scale = new JsonObject
        {
            ["kind"] = "Scale",
            ["apiVersion"] = "autoscaling/v1",
            ["metadata"] = new JsonObject
            {
                ["name"] = meta["name"]?.DeepClone(),
                ["namespace"] = meta["namespace"]?.DeepClone(),
                ["uid"] = meta["uid"]?.DeepClone(),
                ["resourceVersion"] = meta["resourceVersion"]?.DeepClone(),
                ["creationTimestamp"] = meta["creationTimestamp"]?.DeepClone(),
            },
            ["spec"] = new JsonObject { ["replicas"] = node["spec"]?["replicas"]?.DeepClone() ?? 1 },
            ["status"] = new JsonObject
            {
                ["replicas"] = node["status"]?["replicas"]?.DeepClone() ?? 0,
                ["selector"] = SelectorString(node["spec"]?["selector"]),
            },
        };
        _ = storage;
        return Encoding.UTF8.GetBytes(scale.ToJsonString());
    }

    private static string SelectorString(JsonNode? selector)
    {
        if (selector?["matchLabels"] is not JsonObject labels)
        {
            return "";
        }
        return string.Join(",", labels.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + kv.Value));
    }

    private static int ReadScaleReplicas(byte[] json)
    {
        try
        {
            var node = JsonNode.Parse(json);
            return node?["spec"]?["replicas"]?.GetValue<int>() ?? throw ApiException.BadRequest("Scale.spec.replicas is required");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw ApiException.BadRequest("invalid Scale: " + e.Message);
        }
    }

    private static IKubernetesObject<V1ObjectMeta> SetReplicas(IKubernetesObject<V1ObjectMeta> live, int replicas)
    {
        switch (live)
        {
            case V1Deployment d:
                d.Spec.Replicas = replicas;
                break;
            case V1ReplicaSet rs:
                rs.Spec.Replicas = replicas;
                break;
            default:
                throw ApiException.NotFoundPath();
        }
        live.Metadata.ResourceVersion = null;
        return live;
    }
}
