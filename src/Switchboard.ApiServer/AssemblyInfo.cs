namespace Switchboard.ApiServer;
