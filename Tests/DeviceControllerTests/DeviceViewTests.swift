import DeviceControllerService
import EdgeProtocol
import Testing

@Suite struct DeviceViewTests {
    typealias F = DeviceFixtures
    typealias Twin = DeviceView.DesiredTwin

    @Test func readsV1beta1Device() throws {
        let view = try #require(DeviceView(try F.thermo()))
        #expect(view.apiVersion == .v1beta1)
        #expect(view.apiVersionString == "devices.kubeedge.io/v1beta1")
        #expect(view.namespace == "default")
        #expect(view.name == "thermo-1")
        #expect(view.key == "default/thermo-1")
        #expect(view.uid == "u-thermo-1")
        #expect(view.node == "edge-1")
        #expect(view.modelName == "thermo-model")
        #expect(view.modelKey == "default/thermo-model")
        #expect(view.resourceVersion == "100")
        #expect(view.twins == [Twin(name: "temperature", value: "20", type: "int")])
    }

    @Test func v1beta1TypesComeFromTheModelWhenTheDeviceHasNone() throws {
        let device = try F.thermoWithHumidity()
        let without = try #require(DeviceView(device))
        #expect(without.twins == [
            Twin(name: "temperature", value: "20", type: "int"), Twin(name: "humidity", value: nil, type: "string"),
        ])
        let with = try #require(DeviceView(device, model: try F.thermoModel()))
        #expect(with.twins == [
            Twin(name: "temperature", value: "20", type: "int"), Twin(name: "humidity", value: nil, type: "float"),
        ])
        // The device's own type wins over the model's.
        let typed = F.with(device, ["spec", "properties"], .array([
            .object([
                (key: "name", value: "humidity"),
                (key: "desired", value: .object([(key: "value", value: "55.5"), (key: "metadata", value: .object([(key: "type", value: "double")]))])),
            ]),
        ]))
        #expect(DeviceView(typed, model: try F.thermoModel())?.twins == [Twin(name: "humidity", value: "55.5", type: "double")])
    }

    @Test func modelPropertyTypesOfBothVersions() throws {
        #expect(DeviceView.propertyTypes(model: try F.thermoModel()) == ["temperature": "int", "humidity": "float"])
        for (upper, lower) in [("INT", "int"), ("FLOAT", "float"), ("DOUBLE", "double"), ("STRING", "string"), ("BOOLEAN", "boolean"), ("BYTES", "bytes")] {
            #expect(DeviceView.propertyTypes(model: try F.thermoModel(humidityType: upper))["humidity"] == lower)
        }
        #expect(DeviceView.propertyTypes(model: try F.sample("modbus-device-model.yaml")) == [
            "temperature": "int", "temperature-enable": "int",
        ])
        #expect(DeviceView.propertyTypes(model: try F.sample("led-light-device-model.yaml")) == [
            "power-status": "string", "gpio-pin-number": "int",
        ])
        #expect(DeviceView.propertyTypes(model: try F.sample("CC2650-device-model.yaml")) == [
            "temperature": "int", "temperature-enable": "string", "io-config-initialize": "int",
            "io-data-initialize": "int", "io-config": "int", "io-data": "int",
        ])
        let doubleModel = try F.yaml(
            """
            apiVersion: devices.kubeedge.io/v1alpha2
            kind: DeviceModel
            metadata: {name: m}
            spec:
              properties:
              - {name: a, type: {double: {accessMode: ReadOnly}}}
              - {name: b, type: {bytes: {accessMode: ReadOnly}}}
              - {name: c, type: {boolean: {accessMode: ReadWrite, defaultValue: true}}}
              - {name: d, type: {float: {accessMode: ReadOnly}}}
            """)
        #expect(DeviceView.propertyTypes(model: doubleModel) == ["a": "double", "b": "bytes", "c": "boolean", "d": "float"])
        #expect(DeviceView.propertyNames(model: try F.sample("led-light-device-model.yaml")) == ["power-status", "gpio-pin-number"])
    }

    @Test func readsTheV1alpha2ModbusSamples() throws {
        let model = try F.sample("modbus-device-model.yaml")
        for (file, value) in [("modbustcp-device-instance.yaml", "0"), ("modbusrtu-device-instance.yaml", "1")] {
            let view = try #require(DeviceView(try F.sample(file, resourceVersion: "7"), model: model))
            #expect(view.apiVersion == .v1alpha2)
            #expect(view.namespace == "default")
            #expect(view.node == "test")
            #expect(view.modelName == "modbus-sample-model")
            #expect(view.description == "TISimplelinkSensorTag")
            #expect(view.resourceVersion == "7")
            // Only the status twins are desired twins; the device's own type ("integer") is kept.
            #expect(view.twins == [Twin(name: "temperature-enable", value: value, type: "integer")])
        }
    }

    @Test func readsTheV1alpha2BluetoothAndLEDSamples() throws {
        let sensor = try #require(DeviceView(
            try F.sample("CC2650-device-instance.yaml"), model: try F.sample("CC2650-device-model.yaml")))
        #expect(sensor.node == "edge-node1")
        #expect(sensor.modelName == "cc2650-sensortag")
        #expect(sensor.twins == [
            Twin(name: "temperature-enable", value: nil, type: "string"), Twin(name: "io-data", value: nil, type: "int"),
        ])
        let led = try #require(DeviceView(
            try F.sample("led-light-device-instance.yaml"), model: try F.sample("led-light-device-model.yaml")))
        #expect(led.node == "edge-node1")
        #expect(led.description == "LEDLight")
        #expect(led.twins == [Twin(name: "power-status", value: nil, type: "string")])
        // Without the model the type is string.
        #expect(DeviceView(try F.sample("CC2650-device-instance.yaml"))?.twin("io-data")?.type == "string")
    }

    @Test func versionFromShapeWhenApiVersionIsMissing() throws {
        let beta = F.with(try F.thermo(), ["apiVersion"], nil)
        #expect(DeviceView(beta)?.apiVersion == .v1beta1)
        #expect(DeviceView(beta)?.node == "edge-1")
        let alpha = F.with(try F.sample("modbustcp-device-instance.yaml"), ["apiVersion"], nil)
        #expect(DeviceView(alpha)?.apiVersion == .v1alpha2)
        #expect(DeviceView(alpha)?.node == "test")
    }

    @Test func unboundAndInvalidDevices() throws {
        let unbound = F.with(try F.thermo(), ["spec", "nodeName"], nil)
        #expect(try #require(DeviceView(unbound)).node == nil)
        let emptyNode = F.with(try F.thermo(), ["spec", "nodeName"], "")
        #expect(DeviceView(emptyNode)?.node == nil)
        #expect(DeviceView(.string("x")) == nil)
        #expect(DeviceView(.object([(key: "metadata", value: .object([]))])) == nil)
        // No namespace → default.
        #expect(DeviceView(F.with(try F.thermo(), ["metadata", "namespace"], nil))?.namespace == "default")
    }
}
