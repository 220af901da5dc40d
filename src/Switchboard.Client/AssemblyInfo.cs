namespace Switchboard.Client;
