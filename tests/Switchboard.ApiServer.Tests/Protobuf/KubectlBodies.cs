namespace Switchboard.ApiServer.Tests.Protobuf;

/// <summary>
/// Bodies captured from the real kubectl v1.33.1 (<c>-v=9</c> logs a hex dump of each request body) against a
/// Switchboard server that still answered 415, next to what the same command prints with
/// <c>--dry-run=client -o json</c> (minus <c>"creationTimestamp": null</c>, which Go writes for the zero time).
/// </summary>
internal static class KubectlBodies
{
    public static TheoryData<string, string, string, string> All => new()
    {
        {
            "create namespace capns", "Namespace",
            "6b3873000a0f0a02763112094e616d657370616365121d0a150a056361706e7312001a0022002a0032003800420012001a020a001a002200",
            """{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"capns"},"spec":{},"status":{}}"""
        },
        {
            "create configmap capcm --from-literal=a=b --from-literal=c=d", "ConfigMap",
            "6b3873000a0f0a0276311209436f6e6669674d617012270a150a05636170636d12001a0022002a0032003800420012060a016112016212060a01631201641a002200",
            """{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"capcm"},"data":{"a":"b","c":"d"}}"""
        },
        {
            "create secret generic capsec --from-literal=k=v", "Secret",
            "6b3873000a0c0a027631120653656372657412220a160a0663617073656312001a0022002a0032003800420012060a016b1201761a001a002200",
            """{"kind":"Secret","apiVersion":"v1","metadata":{"name":"capsec"},"data":{"k":"dg=="}}"""
        },
        {
            "create service clusterip capsvc --tcp=80:8080", "Service",
            "6b3873000a0d0a02763112075365727669636512720a250a0663617073766312001a0022002a003200380042005a0d0a03617070120663617073766312450a1b0a0738302d38303830120354435018502207080010903f1a002800120d0a0361707012066361707376631a002209436c757374657249503a00420052005a00600068001a020a001a002200",
            """{"kind":"Service","apiVersion":"v1","metadata":{"name":"capsvc","labels":{"app":"capsvc"}},"spec":{"ports":[{"name":"80-8080","protocol":"TCP","port":80,"targetPort":8080}],"selector":{"app":"capsvc"},"type":"ClusterIP"},"status":{"loadBalancer":{}}}"""
        },
        {
            "create service nodeport capnp --tcp=80:8080 --node-port=30080", "Service",
            "6b3873000a0d0a02763112075365727669636512700a230a056361706e7012001a0022002a003200380042005a0c0a0361707012056361706e7012450a1d0a0738302d38303830120354435018502207080010903f1a002880eb01120c0a0361707012056361706e701a0022084e6f6465506f72743a00420052005a00600068001a020a001a002200",
            """{"kind":"Service","apiVersion":"v1","metadata":{"name":"capnp","labels":{"app":"capnp"}},"spec":{"ports":[{"name":"80-8080","protocol":"TCP","port":80,"targetPort":8080,"nodePort":30080}],"selector":{"app":"capnp"},"type":"NodePort"},"status":{"loadBalancer":{}}}"""
        },
        {
            "create service loadbalancer caplb --tcp=443:8443", "Service",
            "6b3873000a0d0a02763112075365727669636512740a230a056361706c6212001a0022002a003200380042005a0c0a0361707012056361706c6212490a1d0a083434332d38343433120354435018bb032207080010fb411a002800120c0a0361707012056361706c621a00220c4c6f616442616c616e6365723a00420052005a00600068001a020a001a002200",
            """{"kind":"Service","apiVersion":"v1","metadata":{"name":"caplb","labels":{"app":"caplb"}},"spec":{"ports":[{"name":"443-8443","protocol":"TCP","port":443,"targetPort":8443}],"selector":{"app":"caplb"},"type":"LoadBalancer"},"status":{"loadBalancer":{}}}"""
        },
        {
            "create serviceaccount capsa", "ServiceAccount",
            "6b3873000a140a027631120e536572766963654163636f756e7412170a150a05636170736112001a0022002a003200380042001a002200",
            """{"kind":"ServiceAccount","apiVersion":"v1","metadata":{"name":"capsa"}}"""
        },
        {
            "create deployment capdep --image=registry.k8s.io/e2e-test-images/agnhost:2.53 --port=8080 --replicas=2", "Deployment",
            "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412ef010a250a0663617064657012001a0022002a003200380042005a0d0a03617070120663617064657012b7010802120f0a0d0a0361707012066361706465701a99010a1f0a0012001a0022002a003200380042005a0d0a036170701206636170646570127612580a0761676e686f7374122c72656769737472792e6b38732e696f2f6532652d746573742d696d616765732f61676e686f73743a322e35332a00320b0a00100018903f22002a0042006a007200800100880100900100a201001a00320042004a0052005800600068008201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a002200",
            """{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"capdep","labels":{"app":"capdep"}},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"capdep"}},"template":{"metadata":{"labels":{"app":"capdep"}},"spec":{"containers":[{"name":"agnhost","image":"registry.k8s.io/e2e-test-images/agnhost:2.53","ports":[{"containerPort":8080}],"resources":{}}]}},"strategy":{}},"status":{}}"""
        },
    };
}
