using System.Text.Json;
using Switchboard.Api.Resources;
using Switchboard.Api.Validation;

namespace Switchboard.ApiServer.Http;

/// <summary>A failure that the API answers with a Kubernetes Status (upstream k8s.io/apimachinery/pkg/api/errors).</summary>
internal sealed class ApiException(int code, string reason, string message) : Exception(message)
{
    public int Code { get; } = code;
    public string Reason { get; } = reason;
    public string? DetailName { get; init; }
    public string? DetailGroup { get; init; }
    public string? DetailKind { get; init; }
    public IReadOnlyList<(string Reason, string Message, string? Field)> Causes { get; init; } = [];
    public int? RetryAfterSeconds { get; init; }

    private static string Qualified(ResourceInfo r) => r.Group.Length == 0 ? r.Plural : r.Plural + "." + r.Group;

    public static ApiException NotFound(ResourceInfo r, string name) =>
        new(404, "NotFound", $"{Qualified(r)} \"{name}\" not found") { DetailName = name, DetailGroup = r.Group, DetailKind = r.Plural };

    public static ApiException AlreadyExists(ResourceInfo r, string name) =>
        new(409, "AlreadyExists", $"{Qualified(r)} \"{name}\" already exists") { DetailName = name, DetailGroup = r.Group, DetailKind = r.Plural };

    public static ApiException Conflict(ResourceInfo r, string name, string why = "the object has been modified; please apply your changes to the latest version and try again") =>
        new(409, "Conflict", $"Operation cannot be fulfilled on {Qualified(r)} \"{name}\": {why}") { DetailName = name, DetailGroup = r.Group, DetailKind = r.Plural };

    public static ApiException Invalid(ResourceInfo r, string name, IReadOnlyList<FieldError> errors)
    {
        // Upstream NewInvalid: the kind is group-qualified ("Ingress.networking.k8s.io") and the message lists
        // each distinct error once (ErrorList.ToAggregate); the causes keep every error.
        var distinct = errors.Select(e => e.ToString()).Distinct(StringComparer.Ordinal).ToList();
        var text = distinct.Count == 1 ? distinct[0] : "[" + string.Join(", ", distinct) + "]";
        var kind = r.Group.Length == 0 ? r.Kind : r.Kind + "." + r.Group;
        return new(422, "Invalid", $"{kind} \"{name}\" is invalid: {text}")
        {
            DetailName = name,
            DetailGroup = r.Group,
            DetailKind = r.Kind,
            Causes = [.. errors.Select(e => (e.Reason, e.Message, (string?)e.Field))],
        };
    }

    public static ApiException BadRequest(string message) => new(400, "BadRequest", message);

    public static ApiException MethodNotAllowed(string message = "the server does not allow this method on the requested resource") => new(405, "MethodNotAllowed", message);

    public static ApiException Expired(string message) => new(410, "Expired", message);

    public static ApiException Unauthorized() => new(401, "Unauthorized", "Unauthorized");

    public static ApiException Forbidden(string message) => new(403, "Forbidden", message);

    public static ApiException UnsupportedMediaType(string contentType) =>
        new(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf");

    public static ApiException TooLarge() => new(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728");

    public static ApiException NotAcceptable(string accept) =>
        new(406, "NotAcceptable", $"only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf");

    public static ApiException Internal(string message) => new(500, "InternalError", "Internal error occurred: " + message);

    public static ApiException NotFoundPath() => new(404, "NotFound", "the server could not find the requested resource");

    /// <summary>Writes this failure as a Status object.</summary>
    public void WriteStatus(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("kind", "Status");
        w.WriteString("apiVersion", "v1");
        w.WriteStartObject("metadata");
        w.WriteEndObject();
        w.WriteString("status", "Failure");
        w.WriteString("message", Message);
        w.WriteString("reason", Reason);
        if (DetailName is not null || DetailKind is not null || Causes.Count > 0 || RetryAfterSeconds is not null)
        {
            w.WriteStartObject("details");
            if (!string.IsNullOrEmpty(DetailName))
            {
                w.WriteString("name", DetailName);
            }
            if (!string.IsNullOrEmpty(DetailGroup))
            {
                w.WriteString("group", DetailGroup);
            }
            if (!string.IsNullOrEmpty(DetailKind))
            {
                w.WriteString("kind", DetailKind);
            }
            if (Causes.Count > 0)
            {
                w.WriteStartArray("causes");
                foreach (var (reason, message, field) in Causes)
                {
                    w.WriteStartObject();
                    w.WriteString("reason", reason);
                    w.WriteString("message", message);
                    if (field is not null)
                    {
                        w.WriteString("field", field);
                    }
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            if (RetryAfterSeconds is int s)
            {
                w.WriteNumber("retryAfterSeconds", s);
            }
            w.WriteEndObject();
        }
        w.WriteNumber("code", Code);
        w.WriteEndObject();
    }
}
