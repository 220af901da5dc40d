namespace Switchboard.Agnhost.Netexec;

/// <summary>What /healthz and /readyz report: a UDP (or SCTP) server is up; SIGTERM has arrived.</summary>
internal sealed class NetexecState
{
    private volatile bool serverReady;
    private volatile bool sigTermReceived;

    public bool ServerReady
    {
        get => serverReady;
        set => serverReady = value;
    }

    public bool SigTermReceived
    {
        get => sigTermReceived;
        set => sigTermReceived = value;
    }
}
