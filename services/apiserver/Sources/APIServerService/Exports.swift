@_exported import APIMachinery
