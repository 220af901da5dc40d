using Microsoft.Extensions.Logging;

namespace Switchboard.Store.Mvcc;

internal sealed partial class RevisionedStore
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Committing a batch of {Count} writes failed; the writes were not applied")]
        public static partial void CommitFailed(ILogger logger, Exception exception, int count);

        [LoggerMessage(2, LogLevel.Debug, "Compacted history through revision {Revision} ({Reason}): {Events} events, {RemovedKeys} deleted keys removed in {ElapsedMs} ms")]
        public static partial void Compacted(ILogger logger, long revision, string reason, long events, int removedKeys, double elapsedMs);

        [LoggerMessage(3, LogLevel.Warning, "History exceeded {MaxEvents} events; compacting through revision {Revision}, inside the {Retention} retention window")]
        public static partial void HistoryCapReached(ILogger logger, int maxEvents, long revision, TimeSpan retention);

        [LoggerMessage(4, LogLevel.Debug, "Watcher on {Prefix} fell behind at revision {Revision} and was closed")]
        public static partial void WatcherOverflowed(ILogger logger, string prefix, long revision);

        [LoggerMessage(5, LogLevel.Warning, "Store housekeeping failed; it is retried at the next interval")]
        public static partial void MaintenanceFailed(ILogger logger, Exception exception);

        [LoggerMessage(6, LogLevel.Debug, "Store file maintenance at revision {Revision} took {ElapsedMs} ms")]
        public static partial void Maintained(ILogger logger, long revision, double elapsedMs);
    }
}
