using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Switchboard.ApiServer.Http;

/// <summary>The query parameters of a resource request, parsed and checked once.</summary>
internal sealed class RequestQuery
{
    private readonly IQueryCollection _q;

    public RequestQuery(IQueryCollection q)
    {
        _q = q;
        Watch = Bool("watch");
        Limit = Int("limit") ?? 0;
        if (Limit < 0)
        {
            Limit = 0;
        }
        TimeoutSeconds = Int("timeoutSeconds");
        DryRun = _q["dryRun"].ToString() switch
        {
            "" => false,
            "All" => true,
            var other => throw ApiException.BadRequest($"Invalid dry run value: \"{other}\"; the only supported value is \"All\""),
        };
        FieldValidation = _q["fieldValidation"].ToString() switch
        {
            "" => "Warn",
            "Strict" => "Strict",
            "Warn" => "Warn",
            "Ignore" => "Ignore",
            var other => throw ApiException.BadRequest($"fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got \"{other}\""),
        };
    }

    public bool Watch { get; }

    public int Limit { get; }

    public int? TimeoutSeconds { get; }

    public bool DryRun { get; }

    public string FieldValidation { get; }

    public string? Continue => Str("continue");

    public string? ResourceVersion => Str("resourceVersion");

    public string? ResourceVersionMatch => Str("resourceVersionMatch");

    public string? LabelSelector => Str("labelSelector");

    public string? FieldSelector => Str("fieldSelector");

    public string? FieldManager => Str("fieldManager");

    public bool AllowWatchBookmarks => Bool("allowWatchBookmarks");

    public bool? SendInitialEvents => _q.ContainsKey("sendInitialEvents") ? Bool("sendInitialEvents") : null;

    public bool Force => Bool("force");

    public string? PropagationPolicy => Str("propagationPolicy");

    public long? GracePeriodSeconds => Int("gracePeriodSeconds");

    public bool? OrphanDependents => _q.ContainsKey("orphanDependents") ? Bool("orphanDependents") : null;

    private string? Str(string name) => _q.TryGetValue(name, out var v) && v.Count > 0 && !string.IsNullOrEmpty(v[0]) ? v[0] : null;

    private bool Bool(string name) => Str(name) switch
    {
        null => false,
        "true" or "1" or "True" => true,
        "false" or "0" or "False" => false,
        var other => throw ApiException.BadRequest($"invalid value for {name}: \"{other}\" (want true or false)"),
    };

    private int? Int(string name) => Str(name) is { } s
        ? int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : throw ApiException.BadRequest($"invalid value for {name}: \"{s}\" (want an integer)")
        : null;
}
