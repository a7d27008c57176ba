/**
 * Words the generator builds names, addresses and job texts from: enough
 * variety that names, titles and descriptions look like an HVAC / plumbing /
 * electrical office's, with realistic lengths (they decide the size of each
 * answer, so they matter for the measurement).
 */
export const FIRST_NAMES = [
  'James', 'Mary', 'John', 'Patricia', 'Robert', 'Jennifer', 'Michael', 'Linda', 'William', 'Elizabeth',
  'David', 'Barbara', 'Richard', 'Susan', 'Joseph', 'Jessica', 'Thomas', 'Sarah', 'Charles', 'Karen',
  'Ana', 'Priya', 'Marco', 'Dana', 'Wei', 'Fatima', 'Carlos', 'Aisha', 'Hiroshi', 'Olga',
  'Luis', 'Mei', 'Omar', 'Sofia', 'Ivan', 'Grace', 'Kwame', 'Nina', 'Raj', 'Elena',
] as const

export const LAST_NAMES = [
  'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez',
  'Hernandez', 'Lopez', 'Gonzalez', 'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin',
  'Lee', 'Patel', 'Rossi', 'Lima', 'Chen', 'Nguyen', 'Kim', 'Singh', 'Khan', 'Okafor',
  'Novak', 'Schmidt', 'Dubois', 'Tanaka', 'Silva', 'Cohen', 'Murphy', 'Kowalski', 'Haddad', 'Larsen',
] as const

export const BUSINESS_FIRST = [
  'Harbor', 'Summit', 'Pioneer', 'Riverside', 'Oak', 'Granite', 'Blue Ridge', 'Maple', 'Lakeside', 'Northwind',
  'Cedar', 'Golden', 'Evergreen', 'Silver', 'Union', 'Metro', 'Prairie', 'Coastal', 'Redwood', 'Liberty',
  'Acme', 'Greenleaf', 'Sunrise', 'Heritage', 'Keystone',
] as const

export const BUSINESS_SECOND = [
  'Logistics', 'Apartments', 'Dental', 'Foods', 'Hotel', 'Medical Center', 'Elementary School', 'Properties',
  'Manufacturing', 'Bakery', 'Fitness', 'Self Storage', 'Auto Repair', 'Pharmacy', 'Community Church',
  'Public Library', 'Office Park', 'Outlet Mall', 'Brewing Co.', 'Family Clinic', 'Senior Living', 'Cinemas',
] as const

export const BUSINESS_SUFFIX = ['', '', '', ' LLC', ' Inc.', ' Group'] as const

export const BUSINESS_SITES = [
  'Main Office', 'Warehouse 2', 'Building A', 'Building B', 'North Campus', 'Plant 1', 'Annex', 'Kitchen',
  'Rooftop', 'Store #12', 'Store #47', 'Distribution Center', 'East Wing', 'Parking Garage', 'Head Office',
] as const

export const HOME_SITES = ['Home', 'Rental unit', 'Lake cabin', 'Duplex (upstairs)', 'Garage apartment'] as const

export const STREETS = [
  'Main St', 'Oak Ave', 'Elm St', 'Industrial Way', 'Park Rd', 'Maple Dr', 'Washington Blvd', 'Lake Shore Dr',
  'Market St', '2nd Ave', 'Cedar Ln', 'Hillcrest Rd', 'Commerce Pkwy', 'River Rd', 'Church St', 'Mill Rd',
] as const

/** City, region, latitude, longitude. */
export const CITIES: ReadonlyArray<readonly [string, string, number, number]> = [
  ['Springfield', 'IL', 39.7817, -89.6501],
  ['Shelbyville', 'IN', 39.5214, -85.7769],
  ['Columbus', 'OH', 39.9612, -82.9988],
  ['Madison', 'WI', 43.0731, -89.4012],
  ['Peoria', 'IL', 40.6936, -89.589],
  ['Dayton', 'OH', 39.7589, -84.1916],
  ['Fort Wayne', 'IN', 41.0793, -85.1394],
  ['Rockford', 'IL', 42.2711, -89.094],
  ['Toledo', 'OH', 41.6528, -83.5379],
  ['Lansing', 'MI', 42.7325, -84.5555],
  ['Akron', 'OH', 41.0814, -81.519],
  ['Evansville', 'IN', 37.9716, -87.5711],
]

/** Asset families: tag prefix, names, manufacturers, models. */
export const ASSET_TYPES: ReadonlyArray<{ type: string; prefix: string; names: readonly string[]; makers: readonly string[]; models: readonly string[] }> = [
  { type: 'HVAC', prefix: 'HVAC', names: ['Rooftop AC Unit', 'Split System', 'Heat Pump', 'Air Handler', 'Chiller'], makers: ['Carrier', 'Trane', 'Lennox', 'Daikin', 'York'], models: ['48TC', 'XR16', 'ML180', 'DZ20VC', 'ZF Series'] },
  { type: 'Boiler', prefix: 'BLR', names: ['Boiler', 'Steam Boiler', 'Condensing Boiler'], makers: ['Weil-McLain', 'Burnham', 'Viessmann'], models: ['CGa-4', 'ES2', 'Vitodens 200'] },
  { type: 'Plumbing', prefix: 'WH', names: ['Water Heater', 'Tankless Water Heater', 'Backflow Preventer', 'Sump Pump'], makers: ['Rheem', 'A.O. Smith', 'Bradford White', 'Watts'], models: ['Performance 50', 'ProLine XE', 'RG250', '909 Series'] },
  { type: 'Electrical', prefix: 'ELEC', names: ['Main Panel', 'Standby Generator', 'Transfer Switch'], makers: ['Square D', 'Generac', 'Eaton'], models: ['QO 200A', 'Guardian 22kW', 'EGS'] },
  { type: 'Door', prefix: 'DOOR', names: ['Loading Dock Door', 'Overhead Door', 'Automatic Door'], makers: ['Overhead Door', 'Stanley', 'Clopay'], models: ['RapidFlex', 'Dura-Glide', '3200 Series'] },
  { type: 'Refrigeration', prefix: 'REF', names: ['Walk-in Cooler', 'Ice Machine', 'Reach-in Freezer'], makers: ['Hoshizaki', 'Manitowoc', 'True'], models: ['KM-515MAJ', 'IYT0500A', 'T-49F'] },
  { type: 'Elevator', prefix: 'ELV', names: ['Passenger Elevator', 'Freight Elevator'], makers: ['Otis', 'Schindler', 'KONE'], models: ['Gen2', '3300', 'MonoSpace'] },
]

export const JOB_TITLES = [
  'AC unit repair', 'AC not cooling', 'Annual HVAC maintenance', 'Furnace inspection', 'Heat pump service',
  'Annual boiler inspection', 'Replace water heater element', 'Leaking kitchen tap', 'Clogged drain', 'Toilet repair',
  'Thermostat replacement', 'Install ceiling fan', 'Breaker keeps tripping', 'Outlet not working', 'Generator load test',
  'Dock door sensor fault', 'Overhead door spring replacement', 'Walk-in cooler temperature alarm', 'Ice machine not producing ice',
  'Quarterly filter change', 'Backflow test', 'Sump pump replacement', 'Emergency leak', 'Lighting retrofit',
  'Elevator annual inspection', 'Duct cleaning', 'Gas smell investigation', 'Preventive maintenance visit',
  'Install new water heater', 'Replace compressor on rooftop unit',
] as const

export const JOB_DESCRIPTIONS = [
  'Customer reports AC not cooling in main office',
  'Tenant reports no hot water since this morning',
  'Recurring issue, see previous visits before starting',
  'Access through the loading dock; ask for the facilities manager at the front desk',
  'Parts ordered, waiting for delivery from the distributor',
  'Annual service contract visit: inspect, clean, test and record readings',
  'Customer requests a morning appointment, before 10:00 if possible',
  'Loud noise from the unit when it starts; customer sent a video',
  'Water pooling under the unit near the drain line',
  'Controller shows alarm code 4 intermittently',
  'Breaker for circuit 12 trips when the kitchen equipment runs',
  'Bring a ladder: the unit is above the drop ceiling in room 204',
  'Gate code 4512; dog on the premises, call before arriving',
  'Quote approved by the property manager; proceed with replacement',
  'Warranty work: take photos of the serial plate and the failed part',
] as const

export const RELATIONSHIP_WEIGHTS = { serviced: 50, maintenance: 20, inspected: 15, replaced: 5, installed: 5, meter_threshold: 5 } as const

export const PRIORITY_WEIGHTS = { Low: 20, Medium: 50, High: 22, Urgent: 8 } as const
