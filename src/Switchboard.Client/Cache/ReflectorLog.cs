using Microsoft.Extensions.Logging;

namespace Switchboard.Client.Cache;

/// <summary>Source-generated log messages for <see cref="Reflector{T}"/>; "resource" is the collection path.</summary>
internal static partial class ReflectorLog
{
    [LoggerMessage(1, LogLevel.Information, "Reflector for {Resource} listed {Count} objects at resourceVersion {ResourceVersion} ({Pages} pages, {Changes} changes)")]
    public static partial void Listed(ILogger logger, string resource, int count, string? resourceVersion, int pages, int changes);

    [LoggerMessage(2, LogLevel.Debug, "Reflector for {Resource} watching from resourceVersion {ResourceVersion} (timeoutSeconds={TimeoutSeconds}, sendInitialEvents={SendInitialEvents})")]
    public static partial void Watching(ILogger logger, string resource, string? resourceVersion, int timeoutSeconds, bool sendInitialEvents);

    [LoggerMessage(3, LogLevel.Debug, "Reflector for {Resource} watch closed after {Events} events at resourceVersion {ResourceVersion}")]
    public static partial void WatchClosed(ILogger logger, string resource, int events, string? resourceVersion);

    [LoggerMessage(4, LogLevel.Information, "Reflector for {Resource}: resourceVersion {ResourceVersion} expired (410), relisting")]
    public static partial void Expired(ILogger logger, string resource, string? resourceVersion);

    [LoggerMessage(5, LogLevel.Information, "Reflector for {Resource}: continue token expired (410) mid-list, listing from scratch")]
    public static partial void ContinueExpired(ILogger logger, string resource);

    [LoggerMessage(6, LogLevel.Warning, "Reflector for {Resource}: {Operation} failed, retrying in {Delay}")]
    public static partial void Failed(ILogger logger, Exception exception, string resource, string operation, TimeSpan delay);

    [LoggerMessage(7, LogLevel.Warning, "Reflector for {Resource}: watch ended after {Events} events without progress, retrying in {Delay}")]
    public static partial void ShortWatch(ILogger logger, string resource, int events, TimeSpan delay);

    [LoggerMessage(8, LogLevel.Error, "Reflector for {Resource}: event handler threw on {Kind} of {Key}")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, string resource, DeltaKind kind, string key);

    [LoggerMessage(9, LogLevel.Warning, "Reflector for {Resource}: server does not support streaming lists ({Reason}); falling back to paginated lists")]
    public static partial void StreamingUnsupported(ILogger logger, string resource, string reason);

    [LoggerMessage(10, LogLevel.Debug, "Reflector for {Resource} bookmark at resourceVersion {ResourceVersion}")]
    public static partial void Bookmark(ILogger logger, string resource, string? resourceVersion);

    [LoggerMessage(11, LogLevel.Information, "Reflector for {Resource} synced")]
    public static partial void Synced(ILogger logger, string resource);
}
