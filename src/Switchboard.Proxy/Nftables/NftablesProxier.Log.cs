using Microsoft.Extensions.Logging;

namespace Switchboard.Proxy.Nftables;

internal sealed partial class NftablesProxier
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Not syncing nftables ({Family}) until Services and EndpointSlices have been received")]
        public static partial void NotInitialized(ILogger logger, string family);

        [LoggerMessage(2, LogLevel.Debug, "nftables ({Family}) {Kind} sync: {Services} service ports, {Operations} operations")]
        public static partial void Synced(ILogger logger, string family, string kind, int services, int operations);

        [LoggerMessage(3, LogLevel.Error, "nftables ({Family}) sync failed; retrying in {Retry} with a full sync")]
        public static partial void SyncFailed(ILogger logger, Exception exception, string family, TimeSpan retry);

        [LoggerMessage(4, LogLevel.Warning, "Unable to delete {Count} stale nftables chains ({Family}); will retry later")]
        public static partial void StaleDeleteFailed(ILogger logger, Exception exception, int count, string family);

        [LoggerMessage(5, LogLevel.Warning, "--nodeport-addresses includes localhost {Address} but localhost NodePorts are not supported")]
        public static partial void LocalhostNodePort(ILogger logger, string address);

        [LoggerMessage(6, LogLevel.Warning, "Could not list existing nftables objects ({Family}) at start; leftover chains will not be removed")]
        public static partial void ListFailed(ILogger logger, Exception exception, string family);
    }
}
