// Construction, skilled trades, manufacturing and engineering. Written for jobbert; one title per line: en | de | es | zh
export default `
electrician | Elektriker | electricista | 电工
industrial electrician | Industrieelektriker | electricista industrial | 工业电工
plumber | Installateur | fontanero | 水管工
heating installer | Heizungsinstallateur | instalador de calefacción | 暖气安装工
HVAC technician | Klimatechniker | técnico de climatización | 暖通空调技术员
carpenter | Zimmermann | carpintero | 木匠
joiner | Tischler | ebanista | 细木工
bricklayer | Maurer | albañil | 砌砖工
tiler | Fliesenleger | alicatador | 瓷砖工
painter and decorator | Maler und Lackierer | pintor decorador | 油漆装饰工
plasterer | Stuckateur | yesero | 抹灰工
roofer | Dachdecker | techador | 屋面工
glazier | Glaser | cristalero | 玻璃安装工
scaffolder | Gerüstbauer | montador de andamios | 脚手架工
construction worker | Bauarbeiter | obrero de la construcción | 建筑工人
construction site manager | Bauleiter | jefe de obra | 施工经理
foreman | Vorarbeiter | capataz | 工头
civil engineer | Bauingenieur | ingeniero civil | 土木工程师
structural engineer | Tragwerksplaner | ingeniero de estructuras | 结构工程师
architect | Architekt | arquitecto | 建筑师
interior designer | Innenarchitekt | diseñador de interiores | 室内设计师
landscape architect | Landschaftsarchitekt | arquitecto paisajista | 景观设计师
urban planner | Stadtplaner | urbanista | 城市规划师
surveyor | Vermessungsingenieur | topógrafo | 测量师
quantity surveyor | Baukalkulator | aparejador | 工料测量师
draughtsman | technischer Zeichner | delineante | 绘图员
CAD designer | CAD-Konstrukteur | diseñador CAD | CAD设计师
mechanical engineer | Maschinenbauingenieur | ingeniero mecánico | 机械工程师
electrical engineer | Elektroingenieur | ingeniero eléctrico | 电气工程师
electronics engineer | Elektronikingenieur | ingeniero electrónico | 电子工程师
chemical engineer | Chemieingenieur | ingeniero químico | 化学工程师
process engineer | Verfahrensingenieur | ingeniero de procesos | 工艺工程师
industrial engineer | Wirtschaftsingenieur | ingeniero industrial | 工业工程师
manufacturing engineer | Fertigungsingenieur | ingeniero de fabricación | 制造工程师
production manager | Produktionsleiter | jefe de producción | 生产经理
plant manager | Werksleiter | director de planta | 厂长
automation engineer | Automatisierungsingenieur | ingeniero de automatización | 自动化工程师
robotics engineer | Robotikingenieur | ingeniero de robótica | 机器人工程师
aerospace engineer | Luft- und Raumfahrtingenieur | ingeniero aeroespacial | 航空航天工程师
automotive engineer | Fahrzeugtechniker | ingeniero de automoción | 汽车工程师
environmental engineer | Umweltingenieur | ingeniero ambiental | 环境工程师
energy engineer | Energietechniker | ingeniero energético | 能源工程师
renewable energy engineer | Ingenieur für erneuerbare Energien | ingeniero de energías renovables | 可再生能源工程师
solar panel installer | Solarteur | instalador de paneles solares | 太阳能板安装工
wind turbine technician | Windenergietechniker | técnico de aerogeneradores | 风力发电机技术员
maintenance technician | Instandhaltungstechniker | técnico de mantenimiento | 维修技术员
maintenance manager | Instandhaltungsleiter | jefe de mantenimiento | 维修经理
industrial mechanic | Industriemechaniker | mecánico industrial | 工业机械工
machinist | Zerspanungsmechaniker | mecanizador | 机械加工工
CNC operator | CNC-Fräser | operador CNC | 数控机床操作工
toolmaker | Werkzeugmacher | matricero | 模具工
welder | Schweißer | soldador | 焊工
metalworker | Metallbauer | trabajador del metal | 金属加工工
sheet metal worker | Blechschlosser | chapista | 钣金工
locksmith | Schlüsseldienst-Techniker | cerrajero | 锁匠
car mechanic | Kfz-Mechatroniker | mecánico de automóviles | 汽车修理工
truck mechanic | Nutzfahrzeugmechaniker | mecánico de camiones | 卡车修理工
car body repairer | Karosseriebauer | carrocero | 汽车钣金修理工
car painter | Fahrzeuglackierer | pintor de automóviles | 汽车喷漆工
aircraft mechanic | Fluggerätmechaniker | mecánico de aviones | 飞机机械师
electronics technician | Elektroniker | técnico electrónico | 电子技术员
mechatronics technician | Mechatroniker | técnico en mecatrónica | 机电一体化技术员
production worker | Produktionshelfer | operario de producción | 生产工人
assembly worker | Montagearbeiter | montador | 装配工
machine operator | Maschinenbediener | operador de máquinas | 机器操作员
quality inspector | Qualitätsprüfer | inspector de calidad | 质检员
quality control technician | Qualitätskontrolltechniker | técnico de control de calidad | 质量控制技术员
quality assurance manager | Leiter Qualitätssicherung | responsable de aseguramiento de calidad | 质量保证经理
health and safety officer | Fachkraft für Arbeitssicherheit | técnico de prevención de riesgos laborales | 安全主任
textile worker | Textilarbeiter | trabajador textil | 纺织工人
tailor | Schneider | sastre | 裁缝
seamstress | Näherin | costurera | 缝纫工
shoemaker | Schuhmacher | zapatero | 鞋匠
upholsterer | Polsterer | tapicero | 软装工
printer | Drucker | impresor | 印刷工
goldsmith | Goldschmied | orfebre | 金匠
watchmaker | Uhrmacher | relojero | 钟表匠
chemical plant operator | Chemikant | operador de planta química | 化工操作员
mining engineer | Bergbauingenieur | ingeniero de minas | 采矿工程师
miner | Bergmann | minero | 矿工
crane operator | Kranführer | operador de grúa | 起重机操作员
excavator operator | Baggerfahrer | operador de excavadora | 挖掘机操作员
elevator technician | Aufzugsmonteur | técnico de ascensores | 电梯技术员
pipefitter | Rohrleitungsbauer | tubero | 管道安装工
insulation worker | Isolierer | instalador de aislamientos | 保温工
demolition worker | Abbrucharbeiter | operario de demolición | 拆除工人
road construction worker | Straßenbauer | obrero de construcción de carreteras | 筑路工人
stonemason | Steinmetz | cantero | 石匠
floor layer | Bodenleger | instalador de suelos | 地板安装工
drywaller | Trockenbauer | instalador de pladur | 石膏板安装工
concrete worker | Betonbauer | hormigonero | 混凝土工
steel fixer | Eisenflechter | ferrallista | 钢筋工
formwork carpenter | Schalungsbauer | encofrador | 模板工
paver | Pflasterer | adoquinador | 铺砖工
well driller | Brunnenbauer | pocero | 打井工
chimney sweep | Schornsteinfeger | deshollinador | 烟囱清扫工
cabinet maker | Möbeltischler | carpintero de muebles | 家具木工
boat builder | Bootsbauer | constructor de embarcaciones | 船艇制造工
blacksmith | Schmied | herrero | 铁匠
farrier | Hufschmied | herrador | 钉蹄匠
foundry worker | Gießereiarbeiter | trabajador de fundición | 铸造工
precision mechanic | Feinmechaniker | mecánico de precisión | 精密机械工
lathe operator | Dreher | tornero | 车工
milling machine operator | Fräser | fresador | 铣工
press operator | Pressenbediener | operador de prensa | 冲压工
injection moulding operator | Spritzgießer | operador de inyección de plásticos | 注塑工
packaging machine operator | Verpackungsmaschinenführer | operador de máquina de embalaje | 包装机操作员
production supervisor | Produktionsmeister | supervisor de producción | 生产主管
shift supervisor | Schichtleiter | jefe de turno | 值班主管
production planner | Produktionsplaner | planificador de producción | 生产计划员
lean manager | Lean-Manager | responsable de lean manufacturing | 精益生产经理
materials engineer | Werkstoffingenieur | ingeniero de materiales | 材料工程师
mechanical design engineer | Konstruktionsingenieur | ingeniero de diseño mecánico | 机械设计工程师
test engineer | Testingenieur | ingeniero de pruebas | 测试工程师
validation engineer | Validierungsingenieur | ingeniero de validación | 验证工程师
field service engineer | Außendienst-Servicetechniker | técnico de servicio de campo | 现场服务工程师
service technician | Servicetechniker | técnico de servicio | 维修服务技术员
semiconductor process engineer | Prozessingenieur Halbleitertechnik | ingeniero de procesos de semiconductores | 半导体工艺工程师
packaging engineer | Verpackungsingenieur | ingeniero de envases y embalajes | 包装工程师
naval architect | Schiffbauingenieur | ingeniero naval | 船舶设计工程师
geotechnical engineer | Geotechnik-Ingenieur | ingeniero geotécnico | 岩土工程师
transportation engineer | Verkehrsingenieur | ingeniero de transporte | 交通工程师
hydraulic engineer | Wasserbauingenieur | ingeniero hidráulico | 水利工程师
building services engineer | Ingenieur für Gebäudetechnik | ingeniero de instalaciones de edificios | 建筑设备工程师
construction project manager | Bauprojektleiter | jefe de proyecto de construcción | 建筑项目经理
cost estimator | Kalkulator | presupuestista | 造价员
building technician | Bautechniker | técnico de construcción | 建筑技术员
surveying technician | Vermessungstechniker | técnico en topografía | 测量技术员
nuclear engineer | Kerntechnik-Ingenieur | ingeniero nuclear | 核工程师
power plant operator | Kraftwerker | operador de central eléctrica | 电厂运行值班员
electrical lineworker | Freileitungsmonteur | liniero eléctrico | 电力线路工
heat pump installer | Wärmepumpeninstallateur | instalador de bombas de calor | 热泵安装工
energy consultant | Energieberater | asesor energético | 能源顾问
oil rig worker | Bohrinselarbeiter | trabajador de plataforma petrolífera | 钻井平台工人
petroleum engineer | Erdölingenieur | ingeniero de petróleo | 石油工程师
gas fitter | Gasinstallateur | instalador de gas | 燃气安装工
refrigeration technician | Kältetechniker | técnico de refrigeración | 制冷技术员
electrical technician | Elektrotechniker | técnico electricista | 电气技术员
instrumentation technician | Mess- und Regeltechniker | técnico de instrumentación | 仪表技术员
PLC programmer | SPS-Programmierer | programador de PLC | PLC编程员
industrial painter | Industrielackierer | pintor industrial | 工业涂装工
sandblaster | Sandstrahler | chorreador de arena | 喷砂工
glassblower | Glasbläser | soplador de vidrio | 玻璃吹制工
potter | Töpfer | alfarero | 陶艺工
window installer | Fensterbauer | instalador de ventanas | 门窗安装工
kitchen fitter | Küchenmonteur | montador de cocinas | 橱柜安装工
furniture assembler | Möbelmonteur | montador de muebles | 家具组装工
handyman | Allround-Handwerker | manitas | 维修杂工
bicycle mechanic | Fahrradmechaniker | mecánico de bicicletas | 自行车修理工
motorcycle mechanic | Zweiradmechaniker | mecánico de motos | 摩托车修理工
agricultural machinery mechanic | Landmaschinenmechaniker | mecánico de maquinaria agrícola | 农机修理工
tyre fitter | Reifenmonteur | montador de neumáticos | 轮胎安装工
diesel mechanic | Dieselmechaniker | mecánico diésel | 柴油机修理工
piano tuner | Klavierstimmer | afinador de pianos | 钢琴调音师
bookbinder | Buchbinder | encuadernador | 装订工
sign maker | Schilderhersteller | rotulista | 招牌制作工
`;
