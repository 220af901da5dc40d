using System.Net;
using k8s.Models;

namespace Switchboard.Client.Cache;

/// <summary>An API failure carrying the Status code and reason, from an HTTP error or an in-stream ERROR event.</summary>
internal sealed class ApiStatusException : Exception
{
    public ApiStatusException(int code, string? reason, string? message, TimeSpan? retryAfter = null)
        : base($"{code} {reason}: {message}")
    {
        Code = code;
        Reason = reason;
        RetryAfter = retryAfter;
    }

    /// <summary>HTTP status code (Status.code), e.g. 410.</summary>
    public int Code { get; }

    /// <summary>Status.reason, e.g. "Expired".</summary>
    public string? Reason { get; }

    /// <summary>Server's Retry-After hint (429, 5xx), if any.</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>410: the resourceVersion or continue token is older than the server's history; only a relist helps.</summary>
    public bool IsGone => Code == (int)HttpStatusCode.Gone;

    public static ApiStatusException FromStatus(V1Status? status) =>
        new(status?.Code ?? 500, status?.Reason, status?.Message ?? "ERROR event without a Status");
}
